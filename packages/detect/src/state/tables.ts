import { hash } from 'node:crypto';
import type { CompiledRule } from '../compile.ts';
import type { RuleDefinition } from '../types.ts';
import type { RuleTable } from './group-runner.ts';
import { fieldsOf, projector, type Projector } from './projection.ts';
import type { RedisDetectionState } from './redis-state.ts';

/** Margin on every group TTL, so a key never expires while its window still matters. */
const TTL_MARGIN_MS = 60_000;

/**
 * The shared state's layout for a rule list: one table (one state blob per group) per
 * group-by field, so one event costs one compare-and-set per field (user, fingerprint, ...)
 * rather than one per rule; its TTL; the projection of its pending events; and the rule-set
 * name that namespaces the keys (a hash of the rules unless given).
 */
export function sharedTables(
  defs: RuleDefinition[],
  compiled: CompiledRule[],
  latenessMs: number,
  state: RedisDetectionState,
): { tables: RuleTable[]; projectors: Projector[]; ruleset: string } {
  const byField = new Map<string, { rules: CompiledRule[]; paths: string[]; ttl: number }>();
  compiled.forEach((rule, i) => {
    const def = defs[i]!;
    let t = byField.get(rule.groupBy);
    if (t === undefined) {
      t = { rules: [], paths: [], ttl: 0 };
      byField.set(rule.groupBy, t);
    }
    t.rules.push(rule);
    t.paths.push(...fieldsOf(def));
    let ttl = rule.windowMs + rule.quietMs + latenessMs + TTL_MARGIN_MS;
    // A baseline outlives any window: its groups keep their state longer (bounded, configurable).
    if (def.condition.kind === 'baseline') ttl = Math.max(ttl, state.baselineTtlMs);
    t.ttl = Math.max(t.ttl, ttl);
  });
  const tables: RuleTable[] = [];
  const projectors: Projector[] = [];
  for (const [field, t] of byField) {
    tables.push({ field, index: tables.length, rules: t.rules, ttlMs: t.ttl });
    projectors.push(projector(t.paths));
  }
  const ruleset =
    state.rulesetOption ??
    hash(
      'sha256',
      JSON.stringify(defs.map((d) => [d.id, d.group_by, d.window_ms, d.quiet_ms, d.match, d.condition])),
      'base64url',
    ).slice(0, 12);
  return { tables, projectors, ruleset };
}
