import type { Cluster, Redis } from 'ioredis';
import { expect } from 'vitest';
import type { Alert } from '@llmsec/core';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { standaloneAndCluster } from './redis-two-clients.ts';

/**
 * A replica that stops while the fleet goes on. Its incidents open in Redis are the fleet's:
 * another replica's sweep resolves them at their due time. Its overflow incidents are its own
 * (the tier is per process): nobody else can send their resolved lines, so before, a stopped
 * replica left them firing for good (a firing line without its resolved line in the alert
 * stream; in Alertmanager until resolve_timeout). Now shutdown() resolves them, ending at the
 * newest event time the replica knows (counted in overflowResolvedEarly, like an incident the
 * tier pushes out). An explicit flush() before shutdown() declares the end of input (the end of
 * a replay): then they stay firing, as every open incident does at the end of input in memory.
 */

const LATENESS = 5 * SEC;
const RULE = 'rapid_guardrail_blocks';

function engineOn(redis: Redis | Cluster, ruleset: string) {
  const alerts: Alert[] = [];
  const state = new RedisDetectionState({
    redis,
    ruleset,
    commandTimeoutMs: 5_000,
    shutdownGraceMs: 0,
    maxOpenIncidentsPerRule: 2,
  });
  const engine = new DetectionEngine({
    rules: defaultRules(),
    allowedLatenessMs: LATENESS,
    state,
    onAlert: (a) => alerts.push(a),
  });
  return { engine, state, alerts };
}

const blocks = (user: string, from: number, n: number) =>
  Array.from({ length: n }, (_, s) =>
    ev({ at: from + s * SEC, category: 'guardrail_block', user, id: `${user}-${from + s * SEC}` }),
  );

const lines = (alerts: Alert[], user: string) =>
  alerts.filter((a) => a.rule === RULE && a.labels.user_id === user).map((a) => a.status);

/** Alice and Bob fill the cap (2) in Redis through process a; Mallory then opens in a's overflow tier. */
async function fleetWithMallory(clients: readonly (Redis | Cluster)[], ruleset: string) {
  const a = engineOn(clients[0]!, ruleset);
  const b = engineOn(clients[1]!, ruleset);
  const [alice, bob] = [blocks('alice', T0, 10), blocks('bob', T0, 10)];
  for (let i = 0; i < 10; i++) for (const { event, t } of [alice[i]!, bob[i]!]) a.engine.ingest(event, t);
  for (const { event, t } of blocks('mallory', T0 + 30 * SEC, 10)) a.engine.ingest(event, t);
  a.engine.advanceTo(T0 + 39 * SEC + LATENESS);
  await a.engine.forceFlush();
  expect(lines(a.alerts, 'mallory')).toEqual(['firing']);
  expect(a.engine.stats.incidentsRefused).toBe(1);
  return { a, b };
}

standaloneAndCluster(
  'RedisDetectionState: a replica leaving resolves its overflow incidents',
  'overflow-stop',
  async (clients, ruleset) => {
    const { a, b } = await fleetWithMallory(clients, ruleset);
    const known = a.engine.time.maxSeen;
    await a.engine.shutdown();
    // Mallory's incident: resolved by a as it left, ending at the newest time it knew (not at
    // a quiet period's end in the future, which would keep the Alertmanager alert firing).
    expect(lines(a.alerts, 'mallory')).toEqual(['firing', 'resolved']);
    const resolved = a.alerts.find((x) => x.labels.user_id === 'mallory' && x.status === 'resolved')!;
    const fired = a.alerts.find((x) => x.labels.user_id === 'mallory' && x.status === 'firing')!;
    expect(resolved.alert_id).toBe(fired.alert_id);
    expect(Date.parse(resolved.ends_at!)).toBe(known);
    expect(a.engine.stats.overflowResolvedEarly).toBe(1);
    expect(a.engine.activeIncidents()).toEqual([]);
    // Alice's and Bob's are the fleet's: a did not resolve them; b's sweep does at their due time.
    expect(lines(a.alerts, 'alice')).toEqual(['firing']);
    b.engine.advanceTo(T0 + 30 * MIN);
    await b.engine.forceFlush();
    expect(lines(b.alerts, 'alice')).toEqual(['resolved']);
    expect(lines(b.alerts, 'bob')).toEqual(['resolved']);
    expect(await b.engine.openIncidents()).toEqual([]);
    await b.engine.shutdown();
  },
);

standaloneAndCluster(
  'RedisDetectionState: the end of input (flush, then shutdown) leaves overflow incidents firing',
  'overflow-end',
  async (clients, ruleset) => {
    const { a, b } = await fleetWithMallory(clients, ruleset);
    a.engine.flush();
    await a.engine.forceFlush();
    await a.engine.shutdown();
    // As in memory at the end of a replay: an incident within its quiet period is still firing.
    expect(lines(a.alerts, 'mallory')).toEqual(['firing']);
    expect(a.engine.stats.overflowResolvedEarly).toBe(0);
    expect(a.engine.activeIncidents().map((x) => x.labels.user_id)).toEqual(['mallory']);
    // Input after a flush() is not the end of input any more: leaving then resolves it.
    await b.engine.shutdown();
  },
);

standaloneAndCluster(
  'RedisDetectionState: input after flush() makes shutdown() a leave again',
  'overflow-reflush',
  async (clients, ruleset) => {
    const { a, b } = await fleetWithMallory(clients, ruleset);
    a.engine.flush();
    await a.engine.forceFlush();
    const more = ev({ at: T0 + 50 * SEC, category: 'guardrail_block', user: 'zed', id: 'zed-1' });
    a.engine.ingest(more.event, more.t);
    await a.engine.shutdown();
    expect(lines(a.alerts, 'mallory')).toEqual(['firing', 'resolved']);
    expect(a.engine.activeIncidents()).toEqual([]);
    await b.engine.shutdown();
  },
);
