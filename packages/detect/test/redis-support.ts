import type { Alert, ManualClock, SecurityEvent } from '@llmsec/core';
import type { Cluster, Redis } from 'ioredis';
import {
  defaultRules,
  DetectionEngine,
  RedisDetectionState,
  type AnyRule,
  type RuleDefinition,
} from '../src/index.ts';
import { ruleStateId } from '../src/state/rule-identity.ts';

/** Helpers for the shared-state tests: engines on Redis and on memory, alerts compared. */

export interface Timed {
  event: SecurityEvent;
  t: number;
}

let nextRuleset = 0;

/** A rule-set name no earlier test used, so tests sharing one Redis never meet. */
export function freshRuleset(tag = 't'): string {
  return `${tag}${process.pid}-${Date.now().toString(36)}-${nextRuleset++}`;
}

export function memoryAlerts(rules: AnyRule[], events: Timed[], latenessMs: number): Alert[] {
  const alerts: Alert[] = [];
  const engine = new DetectionEngine({
    rules,
    allowedLatenessMs: latenessMs,
    onAlert: (a) => alerts.push(a),
  });
  for (const { event, t } of events) engine.ingest(event, t);
  engine.flush();
  return alerts;
}

export function redisEngine(
  redis: Redis | Cluster,
  rules: AnyRule[],
  latenessMs: number,
  ruleset: string,
  extra: {
    commandTimeoutMs?: number;
    batchSize?: number;
    probeIntervalMs?: number;
    maxQueuedEvents?: number;
    shutdownGraceMs?: number;
  } = {},
): { engine: DetectionEngine; alerts: Alert[] } {
  const alerts: Alert[] = [];
  // A generous timeout: these tests are about results, and a loaded CI machine can stall Redis
  // for longer than the 250 ms default (redis-degraded.test.ts tests the timeout itself).
  const state = new RedisDetectionState({ redis, ruleset, commandTimeoutMs: 5_000, ...extra });
  const engine = new DetectionEngine({
    rules,
    allowedLatenessMs: latenessMs,
    state,
    onAlert: (a) => alerts.push(a),
  });
  return { engine, alerts };
}

/**
 * Alerts in a comparable form: sorted, and without the trigger of resolved lines (the memory
 * engine names whichever event of any group moved time past the quiet period; the shared
 * engine resolves per group, on the group's own event or on the sweep).
 */
export function canonical(alerts: Alert[]): string[] {
  return alerts
    .map((a) => {
      const copy: Alert = { ...a };
      if (copy.status === 'resolved') delete copy.trigger;
      return JSON.stringify(copy);
    })
    .sort();
}

/**
 * Per (rule, group): the sequence of incidents (start, status), in incident order. Incidents of
 * one (rule, group) never overlap, so ordering by start then firing-before-resolved is their
 * order in time, whichever process printed which line.
 */
export function sequences(alerts: Alert[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const a of alerts) {
    const k = `${a.rule}|${JSON.stringify(a.labels)}`;
    (out[k] ??= []).push(`${a.starts_at} ${a.status === 'firing' ? 0 : 1}${a.status}`);
  }
  for (const list of Object.values(out)) list.sort();
  return out;
}

/** The resolve-index key the engine gives `rule` (by its state id: its definition, not its position). */
export function ruleIndexKey(state: RedisDetectionState, ruleset: string, rule: AnyRule): string {
  return state.indexKey(ruleset, ruleStateId(rule as RuleDefinition));
}

/**
 * A replica as the detector runs one, with the default rules: live (bound to `clock`, which
 * the Redis state reads too), its alerts pushed to `alerts`.
 */
export function liveReplica(
  redis: Redis,
  clock: ManualClock,
  ruleset: string,
  latenessMs: number,
  alerts: Alert[] = [],
): DetectionEngine {
  return new DetectionEngine({
    rules: defaultRules(),
    allowedLatenessMs: latenessMs,
    clock,
    maxFutureSkewMs: 3_600_000,
    state: new RedisDetectionState({ redis, ruleset, commandTimeoutMs: 5_000, now: () => clock.now() }),
    onAlert: (a) => alerts.push(a),
  });
}

/** `ms` of ticks `tickMs` apart on `clock`, each followed by the engine's flush, as the detector's timer. */
export async function tickFor(
  engine: DetectionEngine,
  clock: ManualClock,
  ms: number,
  tickMs: number,
): Promise<void> {
  for (let waited = 0; waited < ms; waited += tickMs) {
    clock.advance(tickMs);
    engine.tick();
    await engine.forceFlush();
  }
}
