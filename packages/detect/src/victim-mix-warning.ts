import { diag } from '@opentelemetry/api';
import { VICTIM_CATEGORIES } from '@llmsec/core';
import type { CompiledRule } from './compile.ts';

/** Rule ids already warned about in this process (engines are built per replay, per shard, per fallback). */
const warned = new Set<string>();

/**
 * Warns, once per rule id per process, about a rule that reads a victim-side category
 * (auth_failure) together with others. Its alerts are not marked `users_are_victims` (it names
 * actors too), and they do not say which of their users only failed logins, so enforcement
 * acts on all of them: a stranger failing logins as alice from his own address puts alice in a
 * by-address rule's alert beside himself (detect README, victims). Said at construction, where
 * the operator reads it, rather than found after an account was locked out.
 */
export function warnVictimMix(rules: readonly CompiledRule[]): void {
  for (const rule of rules) {
    if (rule.usersAreVictims || warned.has(rule.id)) continue;
    const victim = rule.categories.filter((c) => VICTIM_CATEGORIES.includes(c));
    if (victim.length === 0) continue;
    warned.add(rule.id);
    diag.warn(
      `llmsec detect: rule ${rule.id} reads ${victim.join(', ')} with other categories: its alerts name ` +
        'the accounts tried beside the actors, and enforcement (alertViolationHook, the detector) acts on all of them; ' +
        'keep auth_failure in rules of its own to keep those accounts exempt',
    );
  }
}
