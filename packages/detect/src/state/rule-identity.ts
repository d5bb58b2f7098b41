import { hash } from 'node:crypto';
import { engineLimits } from '../engine-limits.ts';
import { DEFAULT_MAX_PENDING_PER_GROUP } from './redis-state.ts';
import type { ConditionDefinition, RuleDefinition, WherePredicate } from '../types.ts';

/**
 * Identity of shared state per RULE, not per rule set: a rule keeps (and shares with every
 * replica that runs it) its condition state, open incidents and resolve index for as long as
 * its definition is unchanged, whatever else the rule set holds or in what order. Adding a rule
 * in a release (every release that adds a built-in rule does) no longer separates the old
 * replicas from the new ones during a rolling upgrade, and a rule whose definition changed
 * starts fresh instead of reading state written under the old one.
 */

/**
 * Bumped when the stored form of a rule's state (condition state, incident state) changes
 * incompatibly: every rule then starts fresh, as under a new definition.
 */
const STATE_FORMAT = 1;

/** The namespace when no `ruleset` is given: one per prefix, shared by every rule set. */
export const DEFAULT_NAMESPACE = 'fleet';

/** Longest group-by field kept as is in a key; longer or unusual ones are hashed. */
const MAX_RAW_FIELD = 40;

/**
 * The state id of a rule: a hash of what gives its stored state its meaning (id, group_by,
 * window, quiet period, match, condition, and the engine limits that shape its state when not
 * the defaults: shapeOf), normalized so that writing the same rule another way
 * (key order, category order, a default written out, 429 or '429' in a where) is the same rule. Title, severity,
 * description and runbook do not enter: they are read from the rule when an alert is built,
 * never from the state, so changing them keeps the rule's groups and incidents.
 */
export function ruleStateId(def: RuleDefinition, shape?: StateShape): string {
  const limits = shapeOf(def, shape);
  const normalized = {
    f: STATE_FORMAT,
    id: def.id,
    group_by: def.group_by ?? 'user_id',
    window_ms: def.window_ms,
    quiet_ms: def.quiet_ms ?? def.window_ms,
    categories: [...new Set(def.match.categories)].sort(),
    // Every predicate must hold: their order does not matter.
    where: (def.match.where ?? []).map((p) => canonicalJson(samePredicate(p))).sort(),
    condition: canonicalJson(sameCondition(def.condition)),
    ...(limits !== undefined ? { limits } : {}),
  };
  return hash('sha256', canonicalJson(normalized), 'base64url').slice(0, 16);
}

/**
 * The limits that shape a rule's stored state: the engine's maxDistinctValues and
 * maxEventsPerWindow, the Redis state's maxPendingPerGroup (undefined: its default).
 */
export interface StateShape {
  maxDistinctValues: number;
  maxEventsPerWindow: number;
  maxPendingPerGroup?: number | undefined;
}

const DEFAULT_SHAPE = engineLimits({});

/**
 * The limits a rule's stored state is shaped by, when they are not the defaults (undefined:
 * the defaults, so the state ids of replicas left at them, this release's and earlier ones',
 * do not change). maxDistinctValues caps every incident's users; maxEventsPerWindow the ring of
 * a ratio, a cross_group and a monotonic rule without `last`; maxPendingPerGroup when every
 * rule's events are processed. Left out of the id, two replicas
 * with other limits stepped one state each under its own caps: the answer depended on which
 * replica an event reached.
 */
function shapeOf(def: RuleDefinition, shape: StateShape | undefined): Record<string, number> | undefined {
  if (shape === undefined) return undefined;
  const out: Record<string, number> = {};
  if (shape.maxDistinctValues !== DEFAULT_SHAPE.maxDistinctValues) out.users = shape.maxDistinctValues;
  const c = def.condition;
  const ring =
    c.kind === 'ratio' || c.kind === 'cross_group' || (c.kind === 'monotonic' && c.last === undefined);
  if (ring && shape.maxEventsPerWindow !== DEFAULT_SHAPE.maxEventsPerWindow)
    out.events = shape.maxEventsPerWindow;
  // A group past it processes its oldest pending events before the watermark reaches them, so
  // a replica with a smaller cap steps the rule's state in another order (later events late).
  const pending = shape.maxPendingPerGroup ?? DEFAULT_MAX_PENDING_PER_GROUP;
  if (pending !== DEFAULT_MAX_PENDING_PER_GROUP) out.pending = pending;
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * A predicate as the filter reads it (compile.ts): `equals` matches a value or its text alike
 * (sameScalar: 429 and '429', true and 'true' are one value), `in` / `not_in` are sets of texts.
 * Written either way, or a list in another order or with a value twice, it is one rule: a
 * different id made replicas of two releases share nothing for it and start it fresh.
 */
function samePredicate(p: WherePredicate): Record<string, unknown> {
  const out: Record<string, unknown> = { ...p };
  if (p.equals !== undefined) out.equals = String(p.equals);
  if (p.in !== undefined) out.in = textSet(p.in);
  if (p.not_in !== undefined) out.not_in = textSet(p.not_in);
  return out;
}

/** A condition with its defaults and value spellings as the condition code reads them. */
function sameCondition(c: ConditionDefinition): Record<string, unknown> {
  // ratio: `equals` defaults to true and compares as a where's equals does.
  if (c.kind === 'ratio') return { ...c, equals: String(c.equals ?? true) };
  // baseline: the value is the sum of the fields, in any order (a field twice counts twice).
  if (c.kind === 'baseline') return { ...c, sum: [...c.sum].sort() };
  // monotonic: since a repeat of the newest value stopped being a step (conditions/repeats.ts),
  // its stored window and run mean something else: a replica of a release before shares none of it.
  if (c.kind === 'monotonic') return { ...c, steps: 'distinct' };
  return { ...c };
}

function textSet(values: readonly (string | number | boolean)[]): string[] {
  return [...new Set(values.map(String))].sort();
}

/** A rule list as a writer of a table's groups (GroupBody.x): a hash of its state ids, in any order. */
export function writerOf(sids: readonly string[]): string {
  return hash('sha256', [...sids].sort().join(','), 'base64url').slice(0, 8);
}

/**
 * The key part naming a group-by table: the field itself when short and plain (readable in
 * redis-cli), else `#` and a hash. Never a position in the rule list.
 */
export function tableTag(field: string): string {
  return field.length <= MAX_RAW_FIELD && /^[A-Za-z0-9_.]+$/.test(field) && !/^[0-9]+$/.test(field)
    ? field
    : `#${hash('sha256', field, 'base64url').slice(0, 16)}`;
}

/** JSON with object keys sorted at every level (undefined members dropped, as JSON.stringify does). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const parts: string[] = [];
    for (const k of Object.keys(obj).sort()) {
      if (obj[k] === undefined) continue;
      parts.push(`${JSON.stringify(k)}:${canonicalJson(obj[k])}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
