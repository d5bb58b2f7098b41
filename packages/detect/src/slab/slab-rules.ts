import type { BaselineState } from '../conditions/baseline.ts';
import type { IdenticalState } from '../conditions/identical.ts';
import type { MonotonicState } from '../conditions/monotonic.ts';
import type { RatioState } from '../conditions/ratio.ts';
import { compileField } from '../fields.ts';
import type { AnyRule, Condition, RuleDefinition } from '../types.ts';
import { isCodeRule, type CompiledRule, type CompileLimits } from '../compile.ts';
import { SlabBaseline } from './baseline.ts';
import { SlabIdentical } from './identical.ts';
import { SlabIdenticalShared, sharesWindow } from './identical-shared.ts';
import { SlabMonotonic } from './monotonic.ts';
import { SlabRatio } from './ratio.ts';
import type { SlabRule } from './slab-rule.ts';

/**
 * Window entries kept inline per (group, rule) before a window spills into an object state:
 * at least INLINE_ENTRIES, and up to MAX_INLINE_ENTRIES as many as the rule's own threshold
 * (min_events; for monotonic with `last`, the larger of the two), so a window can reach the
 * threshold inline. Measured with bench/detect/groups.ts on the replay mix: a user holds ~6
 * request events per 5-minute window at 1,000 users and one at 100,000; with 8 for
 * high_block_rate (min_events 11) 46% of its updates at 1,000 users ran spilled, on the object
 * path; 4 made 1,000 users 10% slower and 100,000 no faster. Each entry costs every group's row 8 bytes (identical: a time; ratio:
 * a time, its flag a bit of one more double) or 32 (monotonic: time, value, and an event id and a trace id slot in the
 * string row; the trace since alerts list their evidence's trace ids).
 */
export const INLINE_ENTRIES = 8;
const MAX_INLINE_ENTRIES = 16;

function inlineEntries(threshold: number): number {
  return Math.max(INLINE_ENTRIES, Math.min(threshold, MAX_INLINE_ENTRIES));
}

/**
 * The slab implementation of a data rule's condition (ratio, identical, monotonic, baseline),
 * or undefined: code rules and the other kinds keep object states. `rule.condition` is the
 * object condition the slab one stands in for; it does the work of spilled windows and
 * describes incidents.
 */
export function slabRuleFor(def: AnyRule, rule: CompiledRule, limits: CompileLimits): SlabRule | undefined {
  if (isCodeRule(def)) return undefined;
  const slab = makeSlabRule(def, rule, limits);
  if (slab !== undefined) {
    slab.feed = feedKey(def);
    slab.lane = laneKey(def);
  }
  return slab;
}

/**
 * The slab implementations of a rule list, as the engine builds them (undefined: the rule
 * keeps object states). Decided here, once: an identical rule reads the window of an earlier
 * ratio rule when both see the same events of the same groups over the same window
 * (identical-shared.ts), instead of keeping a ring of its own. "Earlier" because the engine
 * updates a category's rules in list order, and the identical verdict needs the ratio's
 * window as of the same event.
 */
export function slabRulesFor(
  entries: readonly { def: AnyRule; rule: CompiledRule }[],
  limits: CompileLimits,
): (SlabRule | undefined)[] {
  const out: (SlabRule | undefined)[] = [];
  for (let i = 0; i < entries.length; i++) {
    const { def, rule } = entries[i]!;
    let slab = slabRuleFor(def, rule, limits);
    if (slab instanceof SlabIdentical && !isCodeRule(def) && def.condition.kind === 'identical') {
      const c = def.condition;
      const window = out.find(
        (other, j): other is SlabRatio =>
          other instanceof SlabRatio &&
          other.feed === slab!.feed &&
          entries[j]!.rule.groupBy === rule.groupBy &&
          sharesWindow(c, rule.windowMs, other),
      );
      if (window !== undefined) {
        slab = new SlabIdenticalShared(
          c,
          compileField(c.field),
          rule.windowMs,
          rule.condition as Condition<IdenticalState>,
          window,
        );
        slab.feed = feedKey(def as RuleDefinition);
        slab.lane = laneKey(def as RuleDefinition);
      }
    }
    out.push(slab);
  }
  return out;
}

/**
 * Which events feed a data rule: its categories and where-filter, as text. Two rules with the
 * same key see the same events in the same order (per group, when they share a group key).
 */
export function feedKey(def: RuleDefinition): string {
  return JSON.stringify([def.match.categories, def.match.where ?? []], distinctValues);
}

/**
 * Which categories feed a data rule, whatever its where-filter, as text (each once, in order):
 * the events that update the rule are among those of its lane's categories.
 */
export function laneKey(def: RuleDefinition): string {
  return JSON.stringify([...new Set(def.match.categories)].sort());
}

/**
 * Keeps apart in feedKey what JSON would merge or refuse in rules handed over as objects
 * (rule files take finite numbers only): Infinity, -Infinity and NaN all print as null, and a
 * bigint throws.
 */
function distinctValues(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return { number: String(value) };
  if (typeof value === 'bigint') return { bigint: String(value) };
  return value;
}

function makeSlabRule(def: RuleDefinition, rule: CompiledRule, limits: CompileLimits): SlabRule | undefined {
  const c = def.condition;
  const windowMs = rule.windowMs;
  // Rule files give whole counts (rule-schema.ts); rules handed over as objects might not, or
  // leave them out, and the inline rings are sized and indexed by them: such rules keep the
  // object path, whatever it does (a ring sized by a missing min_events would be NaN doubles
  // wide: no page could be made, and every rule of the table would stop).
  if (!Number.isInteger(limits.maxEventsPerWindow)) return undefined;
  if ((c.kind === 'ratio' || c.kind === 'identical' || c.kind === 'monotonic') && !isCount(c.min_events))
    return undefined;
  if (c.kind === 'monotonic' && c.last !== undefined && !isCount(c.last)) return undefined;
  switch (c.kind) {
    case 'ratio':
      return new SlabRatio(
        c,
        compileField(c.field),
        windowMs,
        limits.maxEventsPerWindow,
        rule.condition as Condition<RatioState>,
        inlineEntries(c.min_events),
      );
    case 'identical':
      return new SlabIdentical(
        c,
        compileField(c.field),
        windowMs,
        rule.condition as Condition<IdenticalState>,
        inlineEntries(c.min_events),
      );
    case 'monotonic':
      // The slab's ring keeps no users: a rule grouped by something other than the user names
      // the users of its evidence (conditions/monotonic.ts keeps them), so it keeps object states.
      if (rule.groupBy !== undefined && rule.groupBy !== 'user_id') return undefined;
      return new SlabMonotonic(
        c,
        c.value.map(compileField),
        windowMs,
        limits.maxEventsPerWindow,
        rule.condition as Condition<MonotonicState>,
        // With `last`, the window keeps max(last, min_events) values, and a rule with `last`
        // below `min_events` needs min_events of them before it can hold.
        inlineEntries(Math.max(c.last ?? 0, c.min_events)),
      );
    case 'baseline':
      return new SlabBaseline(c, c.sum.map(compileField), rule.condition as Condition<BaselineState>);
    default:
      return undefined;
  }
}

/** A whole number of events, at least one. */
function isCount(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 1;
}
