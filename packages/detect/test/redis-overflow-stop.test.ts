import type { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, DetectionEngine, RedisDetectionState, type CodeRule } from '../src/index.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';
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

/**
 * The same for the incidents of the process's in-memory engines: a code rule's (code rules run
 * in each process) and one opened by the fallback engine while Redis was unreachable. Nobody
 * else holds them either: leaving resolves them at the newest time known; after a flush() they
 * stay firing, as in memory.
 */
describe('RedisDetectionState: a replica leaving resolves its in-memory engines’ incidents', () => {
  const db = useRedis();
  const codeRule: CodeRule = {
    id: 'code_leak',
    title: 'any leak (code rule)',
    severity: 'critical',
    categories: ['system_prompt_leakage'],
    window_ms: MIN,
    condition: { createState: () => null, update: () => true, describe: () => 'a leak' },
  };

  async function localIncidents() {
    const alerts: Alert[] = [];
    const state = new RedisDetectionState({
      redis: db.redis,
      ruleset: freshRuleset('leave-local'),
      commandTimeoutMs: 5_000,
      shutdownGraceMs: 0,
    });
    const engine = new DetectionEngine({
      rules: [...defaultRules(), codeRule],
      allowedLatenessMs: LATENESS,
      state,
      onAlert: (a) => alerts.push(a),
    });
    const leak = ev({ at: T0, category: 'system_prompt_leakage', user: 'carol', id: 'carol-leak' });
    engine.ingest(leak.event, leak.t);
    engine.advanceTo(T0 + LATENESS);
    await engine.forceFlush();
    // Redis goes away; Dave's blocks reach the fallback engine, which fires for him.
    const fail = () => Promise.reject(new Error('Redis gone'));
    state.cas = fail;
    state.advanceClock = fail;
    state.ping = fail;
    engine.advanceTo(T0 + LATENESS + 1);
    await engine.forceFlush();
    expect(engine.stats.state?.mode).toBe('degraded');
    for (const { event, t } of blocks('dave', T0 + 10 * SEC, 10)) engine.ingest(event, t);
    engine.advanceTo(T0 + 19 * SEC + LATENESS);
    const of = (rule: string, user: string) =>
      alerts.filter((a) => a.rule === rule && a.labels.user_id === user).map((a) => a.status);
    expect(of('code_leak', 'carol')).toEqual(['firing']);
    expect(of(RULE, 'dave')).toEqual(['firing']);
    return { engine, alerts, of };
  }

  it('leaving: resolved, ending at the newest time known', async () => {
    const { engine, alerts, of } = await localIncidents();
    const known = engine.time.maxSeen;
    await engine.shutdown();
    expect(of('code_leak', 'carol')).toEqual(['firing', 'resolved']);
    expect(of(RULE, 'dave')).toEqual(['firing', 'resolved']);
    for (const a of alerts.filter((x) => x.status === 'resolved')) expect(Date.parse(a.ends_at!)).toBe(known);
    expect(engine.activeIncidents()).toEqual([]);
    // Carol's leak also opened the built-in rule's incident in Redis: the fleet's, left to it.
    expect(of('system_prompt_leakage', 'carol')).toEqual(['firing']);
  });

  it('after a flush() (end of input): still firing', async () => {
    const { engine, of } = await localIncidents();
    engine.flush();
    await engine.forceFlush();
    await engine.shutdown();
    expect(of('code_leak', 'carol')).toEqual(['firing']);
    expect(of(RULE, 'dave')).toEqual(['firing']);
  });
});
