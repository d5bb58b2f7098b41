import { hash } from 'node:crypto';
import type { Alert, SecurityEvent } from '@llmsec/core';
import type { CompiledRule } from '../compile.ts';
import {
  droppedIncidentAlert,
  Incident,
  loadableState,
  openIncident,
  type IncidentState,
} from '../incident.ts';
import { decodeState, encodeState } from './codec.ts';
import { ProjectionCover } from './projection-cover.ts';
import type { OverflowRun } from './shared-overflow.ts';

/**
 * One group's state in the shared store, and the step that advances it: the per-group half of
 * DetectionEngine.process(), run by whichever process holds the group's latest version (the
 * store's compare-and-set makes the step atomic). Every condition is per (rule, group), so
 * processing each group's events in event-time order gives the same per-group alerts as the
 * single-process engine, whatever the interleaving across processes.
 */

/** The rules that share one group-by field (one state blob per group of that field). */
export interface RuleTable {
  field: string;
  /** Position in this engine's table list (process-local: never part of a Redis key). */
  index: number;
  /** The field as it appears in the group keys (tableTag). */
  tag: string;
  rules: CompiledRule[];
  /** Per rule (parallel to `rules`): its state id (ruleStateId), the key of its entries in a stored group. */
  sids: string[];
  /** This process's rule list for the table as a writer of its groups (a hash of its state ids, in any order): see GroupBody.x. */
  writer: string;
  /** Per rule: the key of its resolve index. */
  indexKeys: string[];
  /** The key of the table's shared pending index. */
  pendingKey: string;
  /** The tag of this process's projection of the table's pending events (projection-cover.ts), and its fields. */
  projectionTag: string;
  projectionFields: string[];
  /** Per rule: the fields it reads (fieldsOf). */
  rulePaths: string[][];
  /**
   * Per rule: an event of its categories it cannot read (projection-cover.ts) breaks its run
   * rather than being skipped (`identical`, for which a missing value is a break). Absent: none.
   */
  breaksOnUnread?: boolean[];
  /** Blob TTL: max(window + quiet) + lateness, or the baseline TTL when a baseline rule is in. */
  ttlMs: number;
}

/**
 * A pending event: [time, seq (arrival order at the group), projected event, the tag of its
 * writer's projection (absent: written before projections were tagged)].
 */
type Pending = [number, number, SecurityEvent, string?];

/** The stored group (JSON via codec.ts; short keys because there is one per active group). */
export interface GroupBody {
  /** The group key (the alert label value). */
  k: string;
  /** processedUpTo: events older than this are late for this group. */
  p: number;
  /** Pending events, in (time, arrival) order. */
  q: Pending[];
  /** Next arrival sequence number. */
  n: number;
  /** Recently processed event ids as shortId() (bounded), to count an event once. */
  r: string[];
  /** Condition state per rule state id (ruleStateId: the rule's definition, not its position). */
  s: Record<string, unknown>;
  /** Open incident per rule state id. */
  i: Record<string, IncidentState>;
  /**
   * Per writer (RuleTable.writer: a rule list, so one entry per release in a mix): the event
   * time up to which the state it wrote matters (the group's processed time plus its table TTL,
   * at its last step of the group). A process keeps the entries of rules it does not run only
   * while another writer's time has not passed (during a rolling upgrade they are that writer's
   * rules), and drops them after: a rule no replica runs any more does not stay in a busy group.
   * One number per writer, not per rule: per rule it was a third of a user's stored state.
   */
  x: Record<string, number>;
  /**
   * The fields of each projection tag the pending events carry (projection-cover.ts): replicas of
   * another release project pending events for their own rules. Only the tags in `q` are kept.
   */
  f?: Record<string, string[]>;
}

export interface GroupLimits {
  maxUsersPerAlert: number;
  /** Pending events kept per group; past it the oldest is processed early (as the reorder buffer does). */
  maxPending: number;
  /** Recent event ids kept per group for de-duplication. */
  recentIds: number;
}

export interface GroupStep {
  body: GroupBody;
  /** Whether anything changed (no write is needed otherwise). */
  changed: boolean;
  alerts: Alert[];
  /** Open incidents that gained users (their current state, one per incident). */
  updates: Alert[];
  processed: number;
  late: number;
  /**
   * A resend's events (`resent`) that did not land in this group and are older than its
   * processed time: not counted late here, the shared engine decides (late-resend.ts).
   */
  lateResent: { t: number; event: SecurityEvent }[];
  duplicates: number;
  /** Stored incidents dropped as damaged (see loadableState). */
  damaged: number;
  /**
   * Per event whose rule held but whose incident `refuse` kept from opening (its index is full),
   * with the overflow tier off: the rule id (counted, no firing line).
   */
  refused: string[];
  /** With the overflow tier on: those events as the overflow incidents they open or extend. */
  overflow: OverflowRun[];
  /**
   * Time of the oldest event still pending (+Infinity: none): the group needs a release step as
   * soon as the watermark passes it, not once it passes the newest (that held an attack's
   * firing event back until the watermark passed the last event of the burst).
   */
  pendingFrom: number;
  /** resolveAt of the open incident per rule index (for the resolve index); absent: none open. */
  open: Map<number, number>;
}

/**
 * An event id as 8 characters (48 bits of SHA-1): the recent-id list is rewritten with the
 * group at every write, and full ids (often 16-36 characters) were most of a small group's
 * state. A collision (about 2^-43 per pair in a list of 32) would drop one event as a duplicate.
 */
export function shortId(id: string): string {
  return hash('sha1', id, 'base64url').slice(0, 8);
}

export function emptyBody(key: string): GroupBody {
  return { k: key, p: Number.NEGATIVE_INFINITY, q: [], n: 0, r: [], s: {}, i: {}, x: {} };
}

export function decodeBody(text: string): GroupBody {
  return decodeState<GroupBody>(text);
}

export function encodeBody(body: GroupBody): string {
  return encodeState(body);
}

/**
 * Makes a stored group's writer times (x) and projection tags (f) usable before a step or a
 * hand-back writes them. Written by a bug in another replica or by hand, a number or a string
 * there made the write throw, so every round touching the group failed and the engine went
 * degraded, and back, and again; a list took the writer time and lost it in the JSON (an
 * array's named members are not written). A damaged `x` is no writer time (another release's
 * entries drop, as for one damaged time); a damaged `f` describes no tag (a foreign event is
 * judged as it is, as before projections were tagged).
 */
export function repairExtras(body: GroupBody): void {
  if (!isMap(body.x)) body.x = {};
  if (body.f !== undefined && !isMap(body.f)) delete body.f;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** This process's overflow tier as a group step sees it (see SharedOverflow). */
export interface OverflowView {
  /** Whether this process holds an overflow incident of (rule, group) still open at `t`. */
  live(ruleId: string, key: string, t: number): boolean;
}

/**
 * Adds `events` (already matched to this table and group) to the group and processes every
 * pending event at or before `watermark`, in order; then resolves incidents due by the
 * watermark. Pure apart from `body`, which it updates in place. Rules in `refuse` (ids) open no
 * new incident in this step (their resolve index is full: as the in-memory engine at
 * maxOpenIncidentsPerRule, the condition state moves on): with `overflow` they become overflow
 * runs (step.overflow), as do the events of a group this process holds an overflow incident of
 * (extended there, as in memory: nothing moves between the tiers); without it, counted refused.
 * `resent`: the events are a failed round's batch shipped again (HeldBatch); see `landed` below.
 */
export function stepGroup(
  table: RuleTable,
  body: GroupBody,
  events: readonly { t: number; event: SecurityEvent }[],
  watermark: number,
  limits: GroupLimits,
  refuse?: ReadonlySet<string>,
  overflow?: OverflowView,
  resent = false,
): GroupStep {
  const step: GroupStep = {
    body,
    changed: false,
    alerts: [],
    updates: [],
    processed: 0,
    late: 0,
    lateResent: [],
    duplicates: 0,
    damaged: 0,
    refused: [],
    overflow: [],
    pendingFrom: Number.POSITIVE_INFINITY,
    open: new Map(),
  };
  const incidents = new Map<string, Incident>();
  repairExtras(body);
  for (let j = 0; j < table.rules.length; j++) {
    const rule = table.rules[j]!;
    const st = body.i[table.sids[j]!];
    if (st === undefined) continue;
    if (loadableState(st, rule))
      incidents.set(rule.id, Incident.fromState(rule, body.k, st, limits.maxUsersPerAlert));
    else {
      // Dropped, and the group written without it: it cannot be resolved nor listed. Its
      // resolved line when it can be told which incident it was (droppedIncidentAlert), first
      // in the step, before a new incident of the rule that this step's events may open.
      step.damaged++;
      step.changed = true;
      const resolved = droppedIncidentAlert(st, rule, body.k, body.p, limits.maxUsersPerAlert);
      if (resolved !== undefined) step.alerts.push(resolved);
    }
  }
  /** Open incidents that gained a user in this step, with the event that brought the last one. */
  const grew = new Map<string, SecurityEvent>();
  const q = body.q;
  let seen: Set<string> | undefined;
  // A resend whose first write landed (its reply lost): a write is atomic, so the group holds
  // every one of these events, pending (in q) or processed (t <= p, its id perhaps pushed out
  // of the last 32 by then). Any of them found tells it; the others processed are repeats too,
  // not late events (nor, at t = p, new ones). None found: the write did not land, as usual.
  let landed = false;
  if (resent && events.length > 0) {
    const held = (seen = new Set([...body.r, ...q.map((p) => shortId(p[2].event_id))]));
    landed = events.some((e) => held.has(shortId(e.event.event_id)));
  }
  for (const { t, event } of events) {
    // Duplicate first (as ingestOnce does): a copy arriving after its original was processed
    // is a duplicate, not a late event.
    const short = shortId(event.event_id);
    seen ??= new Set([...body.r, ...q.map((p) => shortId(p[2].event_id))]);
    if (seen.has(short) || (landed && t <= body.p)) {
      step.duplicates++;
      continue;
    }
    if (t < body.p) {
      // A resend that did not land here (landed, it would be a repeat above): perhaps counted
      // nowhere yet, so the shared engine may give it to the local engine (late-resend.ts).
      if (resent) step.lateResent.push({ t, event });
      else step.late++;
      continue;
    }
    seen.add(short);
    // After every pending entry with time <= t: equal times keep arrival order.
    let at = q.length;
    while (at > 0 && q[at - 1]![0] > t) at--;
    q.splice(at, 0, [t, body.n++, event, table.projectionTag]);
    // Set, not `??=`: a damaged entry for this tag is put right (the tag is a hash of the fields).
    (body.f ??= {})[table.projectionTag] = table.projectionFields;
    step.changed = true;
  }
  const cover = new ProjectionCover(table.projectionTag, table.rulePaths, body.f ?? {});
  while (q.length > 0 && (q[0]![0] <= watermark || q.length > limits.maxPending)) {
    const [t, , event, tag] = q.shift()!;
    if (t > body.p) body.p = t;
    const judge = (j: number): boolean => cover.covers(tag, j);
    processOne(table, body, incidents, event, t, step, limits, grew, judge, refuse, overflow);
    step.changed = true;
  }
  if (watermark > body.p) {
    body.p = watermark;
    step.changed = true;
  }
  for (const rule of table.rules) {
    const inc = incidents.get(rule.id);
    if (inc !== undefined && inc.resolveAt <= watermark) {
      incidents.delete(rule.id);
      step.alerts.push(inc.toAlert('resolved', undefined));
      step.changed = true;
    }
  }
  if (step.changed) {
    writeRules(table, body, incidents);
    keepTags(body);
  }
  for (const rule of table.rules) {
    const inc = incidents.get(rule.id);
    if (inc !== undefined) step.open.set(rule.index, inc.resolveAt);
  }
  if (q.length > 0) step.pendingFrom = q[0]![0];
  for (const [ruleId, event] of grew) {
    const inc = incidents.get(ruleId);
    if (inc !== undefined) step.updates.push(inc.toAlert('firing', event));
  }
  return step;
}

/**
 * Writes this process's rules' incidents into the group (by state id) and its writer time;
 * keeps the entries of rules it does not run (another release's, during a rolling upgrade: their
 * processes step them) while another writer's time has not passed, and drops them once none has
 * (a removed or changed rule's state leaves a busy group instead of riding along).
 */
function writeRules(table: RuleTable, body: GroupBody, incidents: Map<string, Incident>): void {
  const known = new Set(table.sids);
  const open: Record<string, IncidentState> = {};
  for (const sid of Object.keys(body.i)) if (!known.has(sid)) open[sid] = body.i[sid]!;
  table.rules.forEach((rule, j) => {
    const inc = incidents.get(rule.id);
    if (inc !== undefined) open[table.sids[j]!] = inc.toState();
  });
  body.i = open;
  const x = body.x;
  let others = false;
  for (const writer of Object.keys(x)) {
    if (writer === table.writer) continue;
    // Not `x[w] < p`: a missing or damaged time drops the writer too (+Infinity included: it
    // never passes, and would keep departed rules' entries in a busy group for good).
    const until = x[writer];
    if (typeof until === 'number' && Number.isFinite(until) && until >= body.p) others = true;
    else delete x[writer];
  }
  if (!others) {
    for (const sid of Object.keys(body.s)) if (!known.has(sid)) delete body.s[sid];
    for (const sid of Object.keys(body.i)) if (!known.has(sid)) delete body.i[sid];
  }
  // The group's processed time is -Infinity until its first event is processed or released.
  if (Number.isFinite(body.p)) x[table.writer] = body.p + table.ttlMs;
}

/** Keeps the projection tags still carried by a pending event, and only those. */
function keepTags(body: GroupBody): void {
  const f = body.f;
  if (f === undefined) return;
  if (body.q.length === 0) {
    delete body.f;
    return;
  }
  const used = new Set(body.q.map((p) => p[3]));
  for (const tag of Object.keys(f)) if (!used.has(tag)) delete f[tag];
}

function processOne(
  table: RuleTable,
  body: GroupBody,
  incidents: Map<string, Incident>,
  event: SecurityEvent,
  t: number,
  step: GroupStep,
  limits: GroupLimits,
  grew: Map<string, SecurityEvent>,
  /** Whether rule j may judge this event (its projection holds the rule's fields). */
  judge: (j: number) => boolean,
  refuse: ReadonlySet<string> | undefined,
  overflow: OverflowView | undefined,
): void {
  step.processed++;
  const r = body.r;
  r.push(shortId(event.event_id));
  if (r.length > limits.recentIds) r.shift();
  // Inline resolve, as DetectionEngine.process does before an event of a later time.
  for (const rule of table.rules) {
    const inc = incidents.get(rule.id);
    if (inc !== undefined && inc.resolveAt <= t) {
      incidents.delete(rule.id);
      step.alerts.push(inc.toAlert('resolved', event));
    }
  }
  for (let j = 0; j < table.rules.length; j++) {
    const rule = table.rules[j]!;
    if (!rule.categories.includes(event.category)) continue;
    const cond = rule.condition;
    const sid = table.sids[j]!;
    if (!judge(j)) {
      // Skipping is a miss for a rule that counts, but an `identical` run went on across the
      // event and fired where one engine, reading its value (another, or none), broke the run:
      // it is a break, as an event without a value is, whatever its where would have said.
      if (table.breaksOnUnread?.[j] === true)
        cond.update((body.s[sid] ??= cond.createState()), unread(event), t);
      continue;
    }
    if (rule.filter !== undefined && !rule.filter(event)) continue;
    let state = body.s[sid];
    if (state === undefined) {
      state = cond.createState();
      body.s[sid] = state;
    }
    if (!cond.update(state, event, t)) continue;
    const existing = incidents.get(rule.id);
    if (existing !== undefined) {
      // Not moved back: a resent batch (HeldBatch) is stepped after the hand-back, so its events
      // can be older than a handed-back incident's last (in time order otherwise).
      if (t > existing.lastTrueAt) existing.lastTrueAt = t;
      existing.addEvidence(event.event_id, event.trace_id);
      if (existing.addUser(event.user_id)) {
        // The update's alert names this event as its trigger: stored, so copies rebuilt from
        // the state link the same trace first.
        grew.set(rule.id, event);
        existing.triggerTrace = event.trace_id;
      }
      continue;
    }
    // This step's own overflow run counts too: the tier is applied only after the write, so it
    // does not yet know that an earlier event of this step extended its incident.
    if (
      refuse?.has(rule.id) === true ||
      (overflow !== undefined && (overflow.live(rule.id, body.k, t) || liveRun(step, rule, t) !== undefined))
    ) {
      if (overflow === undefined) step.refused.push(rule.id);
      else noteOverflow(step, rule, body.k, state, event, t, limits.maxUsersPerAlert);
      continue;
    }
    // The same opening as DetectionEngine.holds, so the alerts are identical.
    const incident = openIncident(rule, body.k, state, event, t, limits.maxUsersPerAlert);
    incidents.set(rule.id, incident);
    grew.delete(rule.id);
    step.alerts.push(incident.toAlert('firing', event));
  }
}

/** An event with only what every projection keeps (ALWAYS_KEPT): no field a condition reads a value from. */
function unread(event: SecurityEvent): SecurityEvent {
  return {
    event_id: event.event_id,
    timestamp: '',
    category: event.category,
    severity: event.severity,
    user_id: event.user_id,
  };
}

/**
 * An event on which `rule` held for the group but whose incident goes to the overflow tier:
 * extends this step's run of the rule while that run's incident is open at `t`, else starts a
 * run with the incident it opens (openIncident at this event, as the memory engine opens it).
 */
function noteOverflow(
  step: GroupStep,
  rule: CompiledRule,
  key: string,
  state: unknown,
  event: SecurityEvent,
  t: number,
  maxUsers: number,
): void {
  const run = liveRun(step, rule, t);
  if (run !== undefined) {
    run.incident.lastTrueAt = t;
    run.incident.addEvidence(event.event_id, event.trace_id);
    run.incident.addUser(event.user_id);
    run.events.push({ t, event });
    return;
  }
  const incident = openIncident(rule, key, state, event, t, maxUsers);
  step.overflow.push({ rule, incident, firing: incident.toAlert('firing', event), events: [{ t, event }] });
}

/** This step's last overflow run of `rule`, if its incident is still open at `t`. */
function liveRun(step: GroupStep, rule: CompiledRule, t: number): OverflowRun | undefined {
  for (let i = step.overflow.length - 1; i >= 0; i--) {
    const run = step.overflow[i]!;
    if (run.rule !== rule) continue;
    return run.incident.resolveAt > t ? run : undefined;
  }
  return undefined;
}
