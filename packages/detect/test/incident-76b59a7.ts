// packages/detect/src/incident.ts as of 76b59a7 (before trace ids followed the evidence): an
// older replica of a mixed-version fleet, for the round-trip tests. Do not edit.
import { hash } from 'node:crypto';
import { formatTimestamp, type Alert, type SecurityEvent } from '@llmsec/core';
import type { CompiledRule } from '../src/compile.ts';

/** Evidence kept per incident: the first few event ids and the last few. */
export const EVIDENCE_HEAD = 5;
export const EVIDENCE_TAIL = 5;
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
  /** The last EVIDENCE_TAIL ids after the head, as a ring (`tailAt` is the next slot). */
  private readonly tail: string[] = [];
  private tailAt = 0;
  private lastEvidence = '';
  readonly traceIds: string[] = [];
  readonly users = new Set<string>();
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

  /** Evidence arrives in event-time order, so a repeat can only be the id added last. */
  addEvidence(eventId: string, traceId: string | undefined): void {
    if (eventId === this.lastEvidence) return;
    this.lastEvidence = eventId;
    if (this.head.length < EVIDENCE_HEAD) this.head.push(eventId);
    else {
      this.tail[this.tailAt] = eventId;
      this.tailAt = this.tailAt + 1 === EVIDENCE_TAIL ? 0 : this.tailAt + 1;
    }
    if (traceId !== undefined && this.traceIds.length < MAX_TRACE_IDS) this.addTrace(traceId);
  }

  addTrace(traceId: string): void {
    if (this.traceIds.length < MAX_TRACE_IDS && !this.traceIds.includes(traceId)) this.traceIds.push(traceId);
  }

  /** True when the user is new to the incident (and there was room for it). */
  addUser(userId: string): boolean {
    if (this.users.size >= this.maxUsers || this.users.has(userId)) return false;
    this.users.add(userId);
    return true;
  }

  /** The incident as plain data, for a shared state store (see state/codec.ts). */
  toState(): IncidentState {
    return {
      s: this.startsAt,
      l: this.lastTrueAt,
      d: this.description,
      e: this.evidence(),
      x: this.lastEvidence,
      tr: [...this.traceIds],
      u: [...this.users],
    };
  }

  /** The inverse of toState(): the same incident, as if it had lived in this process. */
  static fromState(rule: CompiledRule, key: string, st: IncidentState, maxUsers: number): Incident {
    const inc = new Incident(rule, key, st.s, st.d, maxUsers);
    inc.lastTrueAt = st.l;
    const headLen = Math.min(EVIDENCE_HEAD, st.e.length);
    for (let i = 0; i < headLen; i++) inc.head.push(st.e[i]!);
    // The tail comes back oldest first: the next slot is its length (0 when full: the oldest).
    for (let i = headLen; i < st.e.length; i++) inc.tail.push(st.e[i]!);
    inc.tailAt = inc.tail.length % EVIDENCE_TAIL;
    inc.lastEvidence = st.x;
    for (const t of st.tr) inc.traceIds.push(t);
    for (const u of st.u) inc.users.add(u);
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
    if (status === 'resolved') alert.ends_at = formatTimestamp(endsAt ?? this.resolveAt);
    if (this.traceIds.length > 0) alert.trace_ids = [...this.traceIds];
    if (rule.runbookUrl !== undefined) alert.runbook_url = rule.runbookUrl;
    if (trigger?.trace_id !== undefined) {
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
  tr: string[];
  u: string[];
}

/**
 * Opens the incident of `rule` for group `key` at the event that made its condition hold:
 * the condition's description and evidence, the triggering event, and the users implicated
 * (the condition's own list for cross-group rules, else the group when it is a user, else the
 * event's user). The one place this is decided, so the in-memory engine and the shared
 * (Redis) state open identical incidents.
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
  if (cond.users) cond.users(state, t, (user) => incident.addUser(user));
  else if (rule.groupBy === 'user_id') incident.addUser(key);
  else incident.addUser(event.user_id);
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
