import type { AlertSeverity, SecurityEvent } from '@llmsec/core';

/**
 * The rule model. A rule file holds RuleDefinitions (plain data, validated by rule-schema.ts);
 * the engine compiles each into a CompiledRule. Code rules skip the data form and hand the
 * engine a Condition directly (see CodeRule).
 */

/** Event filter: every predicate must hold. */
export interface WherePredicate {
  /** Field path: `user_id`, `session_id`, `request_preview`, `metadata.<key>`, ... */
  field: string;
  /** The field equals this value: the same value, or a number / boolean and its text (429 and '429'), as group_by joins them. */
  equals?: string | number | boolean;
  /** The field is present (true) or absent (false). */
  exists?: boolean;
  /** The field equals one of these values (as `equals`: 429 and '429' are one value). */
  in?: (string | number | boolean)[];
  /** The field is absent or equals none of these values. */
  not_in?: (string | number | boolean)[];
}

export interface MatchDefinition {
  /** Event categories the rule reads; an event only touches the rules indexed by its category. */
  categories: string[];
  where?: WherePredicate[];
}

/** `count`: at least `min` matched events in the window. */
export interface CountCondition {
  kind: 'count';
  min: number;
}

/** `distinct`: at least `min` distinct values of `field` among the window's events. */
export interface DistinctCondition {
  kind: 'distinct';
  field: string;
  min: number;
}

/**
 * `ratio`: at least `min_events` events in the window, and the fraction whose `field` equals
 * `equals` (default true; as a where `equals`: 'true' is true) is strictly above `above`.
 */
export interface RatioCondition {
  kind: 'ratio';
  min_events: number;
  field: string;
  equals?: string | number | boolean;
  above: number;
}

/**
 * `monotonic`: at least `min_events` valued events in the window; the last `last` of them
 * (all of them when omitted) never decrease, and the newest is strictly above `factor` times
 * the first of that sequence. An event's value is the first of `value` that is positive (a
 * string field counts as its length); events with no positive value are ignored.
 */
export interface MonotonicCondition {
  kind: 'monotonic';
  value: string[];
  min_events: number;
  last?: number;
  factor: number;
}

/**
 * `identical`: at least `min_events` events in the window, all with the same positive value of
 * `field` (a missing or non-positive value breaks the run).
 */
export interface IdenticalCondition {
  kind: 'identical';
  field: string;
  min_events: number;
}

/**
 * `baseline`: the event's value (the sum of the `sum` fields) is strictly above both `factor`
 * times the group's running mean and the mean plus `sigmas` standard deviations, once the
 * baseline holds at least `min_samples` earlier events. Every event then joins the baseline.
 */
export interface BaselineCondition {
  kind: 'baseline';
  sum: string[];
  factor: number;
  sigmas: number;
  min_samples: number;
}

/** `single`: every matched event. */
export interface SingleCondition {
  kind: 'single';
}

/**
 * `cross_group`: at least `min` distinct values of `across` (normally `user_id`) in the window,
 * within a group that spans them (`group_by: fingerprint`, `group_by: source_ip`). With
 * `across: user_id` the alert names every user seen (bounded) in `user_ids`; with any other
 * field the values seen go to the alert's `across` field (`{"source_ip": [...]}`), never to
 * `user_ids`, which then names the group's user (group_by user_id) or the users whose events
 * opened and joined the incident.
 */
export interface CrossGroupCondition {
  kind: 'cross_group';
  across: string;
  min: number;
}

export type ConditionDefinition =
  | CountCondition
  | DistinctCondition
  | RatioCondition
  | MonotonicCondition
  | IdenticalCondition
  | BaselineCondition
  | SingleCondition
  | CrossGroupCondition;

export type ConditionKind = ConditionDefinition['kind'];

/** A rule as data (rule files, the default rules). Durations are in milliseconds here. */
export interface RuleDefinition {
  id: string;
  title: string;
  severity: AlertSeverity;
  description?: string;
  match: MatchDefinition;
  /** Group key field; `fingerprint` is the payload fingerprint. @default 'user_id' */
  group_by: string;
  window_ms: number;
  /** Quiet period before an incident resolves. @default window_ms */
  quiet_ms?: number;
  runbook_url?: string;
  condition: ConditionDefinition;
}

/**
 * Per-group state of one condition. Implementations keep it bounded and update it in O(1)
 * amortised time per event. The engine feeds events in event-time order.
 */
export interface Condition<S = unknown> {
  createState(): S;
  /** Folds in the event at `timeMs` and says whether the condition holds now. */
  update(state: S, event: SecurityEvent, timeMs: number): boolean;
  /** Human text with the figures, called once when an incident opens. */
  describe(state: S, timeMs: number): string;
  /** Ids of the events behind the condition, oldest first (called when an incident opens). */
  evidence?(state: S, timeMs: number, out: EvidenceSink): void;
  /** Users implicated (cross-group rules); default: the users of the evidence events. */
  users?(state: S, timeMs: number, out: (userId: string) => void): void;
}

/** Receives evidence events (id, trace id) when an incident opens. */
export type EvidenceSink = (eventId: string, traceId: string | undefined, userId: string | undefined) => void;

/** A rule written in code: the same envelope as a RuleDefinition, with a Condition object. */
export interface CodeRule {
  id: string;
  title: string;
  severity: AlertSeverity;
  categories: string[];
  /** Optional extra filter beyond the category. */
  filter?: (event: SecurityEvent) => boolean;
  /** @default 'user_id' */
  group_by?: string;
  window_ms: number;
  quiet_ms?: number;
  runbook_url?: string;
  condition: Condition<unknown>;
}

export type AnyRule = RuleDefinition | CodeRule;
