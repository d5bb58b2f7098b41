import { hash } from 'node:crypto';
import { formatTimestamp, type Alert, type SecurityEvent } from '@llmsec/core';
import type { CompiledRule } from './compile.ts';

/** Evidence kept per incident: the first few event ids and the last few. */
export const EVIDENCE_HEAD = 5;
export const EVIDENCE_TAIL = 5;
/** At most one trace id per evidence entry, so this only matters if the evidence grows. */
export const MAX_TRACE_IDS = 10;

/**
 * One incident of one rule for one group: opened when the condition turns true, extended
 * (never re-announced) while it keeps holding, resolved once a quiet period has passed in
 * event time without it holding. Everything it collects is bounded.
 */
export class Incident {
  readonly rule: CompiledRule;
  readonly key: string;
  readonly alertId: string;
  readonly startsAt: number;
  lastTrueAt: number;
  readonly description: string;
  readonly head: string[] = [];
  /**
   * The trace id of each head entry (undefined: the event had none), index for index: an
   * alert's trace_ids are those of its evidence, so they move on with the tail.
   */
  private readonly headTraces: (string | undefined)[] = [];
  /** The last EVIDENCE_TAIL ids after the head, as a ring (`tailAt` is the next slot). */
  private readonly tail: string[] = [];
  /** The trace ids of the tail entries, the same ring (same slots, same `tailAt`). */
  private readonly tailTraces: (string | undefined)[] = [];
  private tailAt = 0;
  private lastEvidence = '';
  readonly users = new Set<string>();
  /**
   * A cross_group rule counting something other than users (rule.across): the distinct values
   * it counted when the incident opened (bounded as the users), the alert's `across` field.
   */
  readonly acrossValues = new Set<string>();
  /**
   * The trace of the event the incident's latest firing alert names as its trigger (the event
   * that opened it, or the last that added a user: an update's trigger), stored with it
   * (`g`), so a copy rebuilt from the shared state (the fleet check, another process's
   * adoption) lists the same trace first in its links as the firing process's copy.
   */
  triggerTrace: string | undefined = undefined;
  private readonly maxUsers: number;
  /** Neighbours in the rule's open list (lastTrueAt order), maintained by OpenIncidents only. */
  older: Incident | undefined = undefined;
  newer: Incident | undefined = undefined;

  constructor(rule: CompiledRule, key: string, t: number, description: string, maxUsers: number) {
    this.rule = rule;
    this.key = key;
    this.startsAt = t;
    this.lastTrueAt = t;
    this.description = description;
    this.maxUsers = maxUsers;
    this.alertId = alertId(rule.id, rule.groupBy, key, t);
  }

  get resolveAt(): number {
    return this.lastTrueAt + this.rule.quietMs;
  }

  /**
   * Evidence arrives in event-time order, so a repeat can only be the id added last. Once the
   * head and the tail are full it only stores into their slots (the per-event path).
   */
  addEvidence(eventId: string, traceId: string | undefined): void {
    if (eventId === this.lastEvidence) {
      // Not new evidence, but it may bring the entry's trace id: the opening event comes again
      // after the condition's own evidence listed it, without a trace when the window did not
      // keep it (a monotonic window stored by an earlier version), and the event itself has it.
      if (traceId !== undefined) this.fillLastTrace(traceId);
      return;
    }
    this.lastEvidence = eventId;
    if (this.head.length < EVIDENCE_HEAD) {
      this.head.push(eventId);
      this.headTraces.push(traceId);
    } else {
      this.tail[this.tailAt] = eventId;
      this.tailTraces[this.tailAt] = traceId;
      this.tailAt = this.tailAt + 1 === EVIDENCE_TAIL ? 0 : this.tailAt + 1;
    }
  }

  private fillLastTrace(traceId: string): void {
    if (this.tail.length === 0) {
      const last = this.headTraces.length - 1;
      if (last >= 0 && this.headTraces[last] === undefined) this.headTraces[last] = traceId;
    } else {
      const last = this.tailAt === 0 ? this.tail.length - 1 : this.tailAt - 1;
      if (this.tailTraces[last] === undefined) this.tailTraces[last] = traceId;
    }
  }

  /** The distinct trace ids of the evidence, in evidence order (at most MAX_TRACE_IDS). */
  traceIds(): string[] {
    const out: string[] = [];
    const add = (t: string | undefined): void => {
      if (t !== undefined && out.length < MAX_TRACE_IDS && !out.includes(t)) out.push(t);
    };
    for (const t of this.headTraces) add(t);
    const n = this.tailTraces.length;
    const from = n < EVIDENCE_TAIL ? 0 : this.tailAt;
    for (let k = 0; k < n; k++) add(this.tailTraces[(from + k) % n]);
    return out;
  }

  /** alertRevision of this incident's firing alert, without building it. */
  revision(): string {
    return revisionOf(this.lastEvidence, this.users.size, this.triggerTrace);
  }

  /**
   * The firing alert as the shared state gives it: the stored trigger trace stands in for the
   * trigger event (the Alertmanager payload uses only its trace id).
   */
  storedFiringAlert(): Alert {
    const alert = this.toAlert('firing', undefined);
    if (this.triggerTrace !== undefined) alert.trigger = { trace_id: this.triggerTrace };
    return alert;
  }

  /** True when the user is new to the incident (and there was room for it). */
  addUser(userId: string): boolean {
    if (this.users.size >= this.maxUsers || this.users.has(userId)) return false;
    this.users.add(userId);
    return true;
  }

  /** A value of rule.across's field (opening only); false when known or there is no room. */
  addAcross(value: string): boolean {
    if (this.acrossValues.size >= this.maxUsers || this.acrossValues.has(value)) return false;
    this.acrossValues.add(value);
    return true;
  }

  /**
   * The incident as plain data, for a shared state store (see state/codec.ts). `tr` is the
   * alert's trace_ids, as before; `et` says which of them each evidence entry carried, so an
   * older replica (which reads `tr` alone and ignores `et`) still loads it.
   */
  toState(): IncidentState {
    const tr = this.traceIds();
    const et: number[] = [];
    for (const t of this.headTraces) et.push(t === undefined ? -1 : tr.indexOf(t));
    const n = this.tailTraces.length;
    const from = n < EVIDENCE_TAIL ? 0 : this.tailAt;
    for (let k = 0; k < n; k++) {
      const t = this.tailTraces[(from + k) % n];
      et.push(t === undefined ? -1 : tr.indexOf(t));
    }
    const st: IncidentState = {
      s: this.startsAt,
      l: this.lastTrueAt,
      d: this.description,
      e: this.evidence(),
      x: this.lastEvidence,
      tr,
      et,
      u: [...this.users],
    };
    if (this.triggerTrace !== undefined) st.g = this.triggerTrace;
    if (this.acrossValues.size > 0) st.a = [...this.acrossValues];
    return st;
  }

  /** The inverse of toState(): the same incident, as if it had lived in this process. */
  static fromState(rule: CompiledRule, key: string, st: IncidentState, maxUsers: number): Incident {
    // A description that is not a string (damaged, hostile) would leave a line without its
    // required `description`: empty instead. Times are the caller's check (loadableState).
    const inc = new Incident(rule, key, st.s, typeof st.d === 'string' ? st.d : '', maxUsers);
    inc.lastTrueAt = st.l;
    // Read from Redis: an `e` or `u` that is not an array (damaged, hostile) is empty rather
    // than throwing in every flush of the group, or a string's characters as ids.
    const e: string[] = Array.isArray(st.e) ? st.e : [];
    const headLen = Math.min(EVIDENCE_HEAD, e.length);
    const traceAt = evidenceTraces(st, e.length);
    for (let i = 0; i < headLen; i++) {
      inc.head.push(e[i]!);
      inc.headTraces.push(traceAt(i));
    }
    // The tail comes back oldest first: the next slot is its length (0 when full: the oldest).
    // Only its last EVIDENCE_TAIL: a longer list (damaged, hostile) would grow every alert.
    for (let i = Math.max(headLen, e.length - EVIDENCE_TAIL); i < e.length; i++) {
      inc.tail.push(e[i]!);
      inc.tailTraces.push(traceAt(i));
    }
    inc.tailAt = inc.tail.length % EVIDENCE_TAIL;
    inc.lastEvidence = typeof st.x === 'string' ? st.x : '';
    // A trace id is 32 hex characters; anything else (damaged, hostile) is not taken.
    if (typeof st.g === 'string' && st.g.length <= MAX_TRACE_ID_CHARS) inc.triggerTrace = st.g;
    // At most maxUsers, as addUser keeps it: a damaged or hostile state's list is not taken
    // whole; only strings are user ids (they reach alerts, bans and Alertmanager labels).
    const users: unknown[] = Array.isArray(st.u) ? st.u : [];
    for (const u of users) {
      if (inc.users.size >= maxUsers) break;
      if (typeof u === 'string') inc.users.add(u);
    }
    // The same for the across values (absent in states of earlier versions, and of rules
    // without rule.across, whose alerts have no such field to fill).
    const across: unknown[] = rule.across !== undefined && Array.isArray(st.a) ? st.a : [];
    for (const v of across) {
      if (inc.acrossValues.size >= maxUsers) break;
      if (typeof v === 'string') inc.acrossValues.add(v);
    }
    return inc;
  }

  evidence(): string[] {
    const n = this.tail.length;
    const tail =
      n < EVIDENCE_TAIL ? this.tail : [...this.tail.slice(this.tailAt), ...this.tail.slice(0, this.tailAt)];
    return [...this.head, ...tail];
  }

  /**
   * The incident as an alert line. `endsAt` (resolved only) overrides resolveAt: an overflow
   * incident resolved early to make room ends then, not at the end of a quiet period it did
   * not have (an Alertmanager endsAt in the future would keep the alert firing until it).
   */
  toAlert(status: 'firing' | 'resolved', trigger: SecurityEvent | undefined, endsAt?: number): Alert {
    const rule = this.rule;
    const alert: Alert = {
      alert_id: this.alertId,
      rule: rule.id,
      severity: rule.severity,
      status,
      labels: { [rule.groupLabel]: this.key },
      user_ids: [...this.users],
      starts_at: formatTimestamp(this.startsAt),
      description: this.description,
      evidence: this.evidence(),
      title: rule.title,
    };
    if (rule.across !== undefined && this.acrossValues.size > 0)
      alert.across = { [rule.across.label]: [...this.acrossValues] };
    if (status === 'resolved') alert.ends_at = formatTimestamp(endsAt ?? this.resolveAt);
    const traceIds = this.traceIds();
    if (traceIds.length > 0) alert.trace_ids = traceIds;
    if (rule.runbookUrl !== undefined) alert.runbook_url = rule.runbookUrl;
    if (rule.usersAreVictims) alert.users_are_victims = true;
    // A resolved line is caused by time passing: its trigger is whichever event moved the clock
    // past the quiet period, often another user's. Only an implicated user's event is kept, so a
    // resolved alert never links to (or is logged inside) an unrelated user's trace.
    if (trigger?.trace_id !== undefined && (status === 'firing' || this.users.has(trigger.user_id))) {
      alert.trigger =
        trigger.span_id !== undefined
          ? { trace_id: trigger.trace_id, span_id: trigger.span_id }
          : { trace_id: trigger.trace_id };
    }
    return alert;
  }
}

/** An open incident as plain data (short keys: it is stored per group in Redis). */
export interface IncidentState {
  /** startsAt */
  s: number;
  /** lastTrueAt */
  l: number;
  d: string;
  /** Evidence ids, head then tail, oldest first. */
  e: string[];
  /** The evidence id added last (a repeat is skipped). */
  x: string;
  /** The distinct trace ids of the evidence, in evidence order (the alert's trace_ids). */
  tr: string[];
  /**
   * Per evidence entry (parallel to `e`), the index of its trace id in `tr`, -1 for none.
   * Absent in states written before trace ids followed the evidence (see evidenceTraces).
   */
  et?: number[];
  u: string[];
  /**
   * The trigger trace (Incident.triggerTrace). Absent in states written before it was kept, or
   * when the trigger had no trace: a rebuilt copy then links the evidence traces only.
   */
  g?: string;
  /**
   * The across values (Incident.acrossValues). Absent when there are none, and in states
   * written before the alert had the field: a rebuilt copy then has no `across`.
   */
  a?: string[];
}

/** Longer than any trace id (32 hex characters in W3C trace context), so a stored one is bounded. */
const MAX_TRACE_ID_CHARS = 64;

/** The largest time a Date holds (ECMA-262 time values): past it, an alert line cannot say it. */
const MAX_TIME_MS = 8.64e15;

const isTime = (x: unknown): x is number => typeof x === 'number' && Math.abs(x) <= MAX_TIME_MS;

/**
 * Whether a stored incident (read from Redis) can be loaded: an object whose start and last
 * times, and the resolve time after them, are times. A damaged one (a bug in another replica, a
 * manual edit: NaN, Infinity, a string) would throw when its line is formatted, or put a NaN
 * score in the resolve index, in every flush of its group, sending the engine degraded: the
 * caller drops it instead (fromState makes every other field safe).
 */
export function loadableState(st: unknown, rule: CompiledRule): st is IncidentState {
  if (typeof st !== 'object' || st === null) return false;
  const { s, l } = st as { s?: unknown; l?: unknown };
  return isTime(s) && isTime(l) && isTime(l + rule.quietMs);
}

/**
 * What tells two firing alerts of one incident apart: its newest evidence id (the evidence
 * only grows at its end), how many users it names (they only join) and its trigger's trace
 * (which changes with them). The fleet check compares it with the caller's copy and rebuilds
 * the alert only when it differs: 10,000 firing alerts a check, mostly unchanged.
 */
export function alertRevision(alert: Alert): string {
  return revisionOf(alert.evidence.at(-1) ?? '', alert.user_ids.length, alert.trigger?.trace_id);
}

function revisionOf(lastEvidence: string, users: number, trigger: string | undefined): string {
  return `${lastEvidence}\u0000${users}\u0000${trigger ?? ''}`;
}

/**
 * The resolved line of a stored incident dropped as damaged (not loadableState), when it can be
 * told which incident it was: its start is a time (the alert id is made from it), only its
 * last time is not. It ends at `at` (the group's event time when it was dropped; its start if
 * later): the firing line its process printed gets its resolved line, and Alertmanager gets
 * the resolve from the process that dropped it. With a damaged start the alert id cannot be
 * made again, and a line under another id would resolve nothing: undefined (Alertmanager then
 * ends the alert through the firing process's fleet check, which finds the incident gone, or at
 * its last POST's endsAt).
 */
export function droppedIncidentAlert(
  st: unknown,
  rule: CompiledRule,
  key: string,
  at: number,
  maxUsers: number,
): Alert | undefined {
  if (typeof st !== 'object' || st === null) return undefined;
  const s = (st as { s?: unknown }).s;
  if (!isTime(s)) return undefined;
  const mended = { ...(st as IncidentState), l: s };
  if (!loadableState(mended, rule)) return undefined;
  const end = isTime(at) && at > s ? at : s;
  return Incident.fromState(rule, key, mended, maxUsers).toAlert('resolved', undefined, end);
}

/**
 * The trace id of evidence entry i of a stored incident. With `et`, exact. A state written by
 * an older replica has only `tr`, the first distinct trace ids the incident ever saw, not tied
 * to entries: best effort, entry i gets tr[i]. That is exact while the incident has had at
 * most 10 events each with its own trace (the usual case), lists the same set whenever the
 * evidence has not rolled yet, and otherwise keeps the old early traces on the entries until
 * new events replace the tail ones (the head keeps them: the old replica's output).
 */
function evidenceTraces(st: IncidentState, evidenceLength: number): (i: number) => string | undefined {
  // Read from Redis: a damaged or hostile `tr` (missing, not an array, not strings) names no
  // trace rather than throwing in every flush or putting a non-string into trace_ids.
  const tr: unknown[] = Array.isArray(st.tr) ? st.tr : [];
  const at = (k: number): string | undefined => {
    const t = tr[k];
    return typeof t === 'string' ? t : undefined;
  };
  const et = st.et;
  if (Array.isArray(et) && et.length === evidenceLength) {
    return (i) => {
      const k = et[i]!;
      return Number.isInteger(k) && k >= 0 && k < tr.length ? at(k) : undefined;
    };
  }
  return at;
}

/**
 * Opens the incident of `rule` for group `key` at the event that made its condition hold:
 * the condition's description and evidence, the triggering event, and the users implicated
 * (the condition's own list for cross-group rules across user_id, else the group when it is a
 * user, else the event's user), and for a cross-group rule across another field the values it
 * counted (never as users: an address is not a user id). The one place this is decided, so the
 * in-memory engine and the shared (Redis) state open identical incidents.
 */
export function openIncident(
  rule: CompiledRule,
  key: string,
  state: unknown,
  event: SecurityEvent,
  t: number,
  maxUsers: number,
): Incident {
  const cond = rule.condition;
  const incident = new Incident(rule, key, t, cond.describe(state, t), maxUsers);
  if (cond.evidence) {
    cond.evidence(state, t, (id, trace, user) => {
      incident.addEvidence(id, trace);
      if (user !== undefined && user !== '' && !cond.users) incident.addUser(user);
    });
  }
  incident.addEvidence(event.event_id, event.trace_id);
  incident.triggerTrace = event.trace_id;
  if (cond.users) cond.users(state, t, (user) => incident.addUser(user));
  else if (rule.groupBy === 'user_id') incident.addUser(key);
  else incident.addUser(event.user_id);
  if (rule.across !== undefined) rule.across.values(state, t, (value) => incident.addAcross(value));
  return incident;
}

/**
 * Deterministic from (rule, group, start), so a replay of the same log gives the same ids and
 * a firing line and its resolved line share one.
 */
export function alertId(ruleId: string, groupBy: string, key: string, startsAt: number): string {
  // One-shot hash: the same digest as createHash().update().digest() without the Hash object.
  const digest = hash('sha256', `${ruleId}\u0000${groupBy}=${key}\u0000${startsAt}`, 'hex');
  return `ALR-${digest.slice(0, 16)}`;
}
