import { readsOnlyVictimCategories, type AlertSeverity, type SecurityEvent } from '@llmsec/core';
import { baselineCondition } from './conditions/baseline.ts';
import type { ConditionContext } from './conditions/context.ts';
import { countCondition } from './conditions/count.ts';
import { crossGroupCondition, type AcrossValues } from './conditions/cross-group.ts';
import { distinctCondition } from './conditions/distinct.ts';
import { identicalCondition } from './conditions/identical.ts';
import { monotonicCondition } from './conditions/monotonic.ts';
import { ratioCondition } from './conditions/ratio.ts';
import { singleCondition } from './conditions/single.ts';
import { compileField, sameScalar, scalarText, type FieldGetter } from './fields.ts';
import type {
  AnyRule,
  CodeRule,
  Condition,
  ConditionDefinition,
  RuleDefinition,
  WherePredicate,
} from './types.ts';

/** A rule ready for the engine: getters compiled, defaults applied. */
export interface CompiledRule {
  /** Position in the engine's rule list; indexes per-group state arrays. */
  index: number;
  id: string;
  title: string;
  severity: AlertSeverity;
  categories: string[];
  filter: ((event: SecurityEvent) => boolean) | undefined;
  groupBy: string;
  /** The alert label carrying the group key: group_by made a valid Prometheus label name. */
  groupLabel: string;
  groupKey: FieldGetter;
  windowMs: number;
  quietMs: number;
  runbookUrl: string | undefined;
  condition: Condition<unknown>;
  /**
   * A cross_group rule counting something other than user ids (`across: source_ip`): the alert
   * field name for those values (the across field made a label name, as groupLabel) and how to
   * read them from the condition's state. Undefined for every other rule.
   */
  across: { label: string; values: AcrossValues } | undefined;
  /**
   * The rule reads only victim-side categories (core's readsOnlyVictimCategories): its users
   * are the accounts tried, and its alerts say so (Alert.users_are_victims).
   */
  usersAreVictims: boolean;
}

export interface CompileLimits {
  maxEventsPerWindow: number;
  maxDistinctValues: number;
}

export function isCodeRule(rule: AnyRule): rule is CodeRule {
  return typeof (rule as CodeRule).condition?.update === 'function';
}

export function compileRule(rule: AnyRule, index: number, limits: CompileLimits): CompiledRule {
  const code = isCodeRule(rule);
  // Each category once: a rule listing one twice would be fed each event twice in memory (one
  // dispatch entry per listed category) but once on the shared path, which tests membership.
  const categories = [...new Set(code ? rule.categories : rule.match.categories)];
  const groupBy = rule.group_by ?? 'user_id';
  const ctx: ConditionContext = {
    windowMs: rule.window_ms,
    maxEventsPerWindow: limits.maxEventsPerWindow,
    maxDistinctValues: limits.maxDistinctValues,
    categories: categories.join('/'),
    groupBy,
  };
  const condition = code ? rule.condition : compileCondition((rule as RuleDefinition).condition, ctx);
  const acrossValues = (condition as { across?: AcrossValues }).across;
  const def = code ? undefined : (rule as RuleDefinition).condition;
  return {
    index,
    id: rule.id,
    title: rule.title,
    severity: rule.severity,
    categories,
    filter: code ? rule.filter : compileWhere(rule.match.where),
    groupBy,
    groupLabel: labelName(groupBy),
    groupKey: compileField(groupBy),
    windowMs: rule.window_ms,
    quietMs: rule.quiet_ms ?? rule.window_ms,
    runbookUrl: rule.runbook_url,
    condition,
    across:
      def?.kind === 'cross_group' && acrossValues !== undefined
        ? { label: labelName(def.across), values: acrossValues }
        : undefined,
    // By what the rule reads, not its id: a custom auth_failure rule names the accounts tried
    // as surely as the built-in ones do.
    usersAreVictims: readsOnlyVictimCategories(categories),
  };
}

/** A field path as an alert label / field name: `metadata.guardrail_layer` -> `metadata_guardrail_layer`. */
function labelName(field: string): string {
  return field.replace(/[^A-Za-z0-9_]/g, '_');
}

export function compileCondition(def: ConditionDefinition, ctx: ConditionContext): Condition<unknown> {
  switch (def.kind) {
    case 'count':
      return countCondition(def, ctx) as Condition<unknown>;
    case 'distinct':
      return distinctCondition(def, compileField(def.field), ctx) as Condition<unknown>;
    case 'ratio':
      return ratioCondition(def, compileField(def.field), ctx) as Condition<unknown>;
    case 'monotonic':
      return monotonicCondition(def, def.value.map(compileField), ctx) as Condition<unknown>;
    case 'identical':
      return identicalCondition(def, compileField(def.field), ctx) as Condition<unknown>;
    case 'baseline':
      return baselineCondition(def, def.sum.map(compileField), ctx) as Condition<unknown>;
    case 'single':
      return singleCondition(ctx) as Condition<unknown>;
    case 'cross_group':
      return crossGroupCondition(def, compileField(def.across), ctx) as Condition<unknown>;
  }
}

/**
 * The where-filter as one function. Values compare as group keys do (sameScalar, scalarText): a
 * number or boolean and its text are one value, as group_by makes them one group. Runs for every event of the rule's categories, before the
 * group key: a single predicate is the filter itself, several are tested in a loop (before,
 * `tests.every((t) => t(event))` made a closure per event; with the default rules' filters on
 * request_completed that cost ~130 ns an event on the replay mix).
 */
function compileWhere(where: WherePredicate[] | undefined): ((event: SecurityEvent) => boolean) | undefined {
  if (!where || where.length === 0) return undefined;
  const tests = where.map((p): ((event: SecurityEvent) => boolean) => {
    const own = toolMarkPredicate(p);
    if (own !== undefined) return own;
    const get = compileField(p.field);
    if (p.equals !== undefined) {
      const want = p.equals;
      const wantText = String(want);
      return (e) => sameScalar(get(e), want, wantText);
    }
    // A set of texts: a string value is looked up as it is, a number or boolean by its text.
    if (p.in !== undefined) {
      const wanted = new Set<string>(p.in.map(String));
      return (e) => {
        const text = scalarText(get(e));
        return text !== undefined && wanted.has(text);
      };
    }
    if (p.not_in !== undefined) {
      const unwanted = new Set<string>(p.not_in.map(String));
      return (e) => {
        const text = scalarText(get(e));
        return text === undefined || !unwanted.has(text);
      };
    }
    if (p.exists === false) return (e) => get(e) === undefined;
    return (e) => get(e) !== undefined;
  });
  if (tests.length === 1) return tests[0];
  return (event) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i]!(event)) return false;
    return true;
  };
}

/**
 * The default rules' filters on the tool markings (input_source, block_source: seven rules,
 * every guardrail_block and request_completed event) as one property read each: the generic
 * predicate calls a getter that every predicate shares one call site for, so it is not inlined
 * (and a key outside fields.ts's named ones is a computed load that sees every key). Same answers
 * as the generic form (where-filter.test.ts runs both).
 */
function toolMarkPredicate(p: WherePredicate): ((event: SecurityEvent) => boolean) | undefined {
  if (p.equals !== undefined) {
    const want = p.equals;
    const wantText = String(want);
    if (p.field === 'metadata.input_source')
      return (e) => sameScalar(e.metadata?.input_source, want, wantText);
    return undefined;
  }
  if (p.exists !== false) return undefined;
  if (p.field === 'metadata.input_source') return (e) => e.metadata?.input_source === undefined;
  if (p.field === 'metadata.block_source') return (e) => e.metadata?.block_source === undefined;
  return undefined;
}
