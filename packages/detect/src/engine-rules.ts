import { warnCategoryTypos } from './category-typo.ts';
import { compileRule, type CompiledRule, type CompileLimits } from './compile.ts';
import { MAX_RULE_DURATION_MS } from './duration-cap.ts';
import { isRunbookUrl } from './runbook-url.ts';
import type { SlabRule } from './slab/slab-rule.ts';
import { slabRulesFor } from './slab/slab-rules.ts';
import type { AnyRule } from './types.ts';
import { warnVictimMix } from './victim-mix-warning.ts';

/** A rule as the engine runs it: compiled, with its slab implementation if it has one. */
export interface EngineRule {
  rule: CompiledRule;
  /** Undefined: the rule keeps object states (no slab form, or slabs turned off). */
  slab: SlabRule | undefined;
}

/**
 * Compiles the engine's rules in order, rejecting at construction a duplicate id, a window
 * that is not positive, a window or quiet period past MAX_RULE_DURATION_MS, or a runbook_url
 * that is not http(s); `objectStateOnly` keeps every rule on object states (the differential
 * tests' and the benchmark's pre-slab baseline).
 */
export function compileEngineRules(
  rules: readonly AnyRule[],
  limits: CompileLimits,
  objectStateOnly: boolean,
): EngineRule[] {
  // Only these two reach the rules (the engine's other limits are not theirs).
  const compileLimits: CompileLimits = {
    maxEventsPerWindow: limits.maxEventsPerWindow,
    maxDistinctValues: limits.maxDistinctValues,
  };
  const ids = new Set<string>();
  const entries = rules.map((def, index) => {
    if (ids.has(def.id)) throw new Error(`DetectionEngine: duplicate rule id "${def.id}"`);
    ids.add(def.id);
    if (!(def.window_ms > 0)) throw new Error(`DetectionEngine: rule "${def.id}": window must be positive`);
    // As a rule file's (rule-schema.ts): past it the Redis state drops the rule's incidents.
    for (const [name, ms] of [
      ['window_ms', def.window_ms],
      ['quiet_ms', def.quiet_ms],
    ] as const) {
      if (ms !== undefined && ms > MAX_RULE_DURATION_MS)
        throw new Error(
          `DetectionEngine: rule "${def.id}": ${name} must be at most ${MAX_RULE_DURATION_MS} (10000000d)`,
        );
    }
    // As a rule file's (rule-schema.ts): it becomes a link in every alert of the rule.
    if (def.runbook_url !== undefined && !isRunbookUrl(def.runbook_url))
      throw new Error(`DetectionEngine: rule "${def.id}": runbook_url must be an http(s):// URL`);
    return { def, rule: compileRule(def, index, compileLimits) };
  });
  warnVictimMix(entries.map((e) => e.rule));
  warnCategoryTypos(rules);
  const slabs = objectStateOnly ? [] : slabRulesFor(entries, compileLimits);
  return entries.map(({ rule }, i) => ({ rule, slab: slabs[i] }));
}
