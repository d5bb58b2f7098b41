import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { toAlertmanagerAlert } from '../src/sinks/alertmanager-payload.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { freshRuleset, ruleIndexKey } from './redis-support.ts';

/**
 * Shared mode at the fleet's cap: the overflow tier is per process. Alice and Bob hold the cap
 * (2) in Redis; Mallory's blocks then reach both processes. Each process whose step finds the
 * index full opens an overflow incident for her and sends a firing line (before, neither did:
 * the rule was blind to her); the fleet's open set (the Redis index) is unchanged; both lines
 * carry the same Alertmanager labels (one alert there), and each process resolves its own
 * once the quiet period has passed.
 */

const LATENESS = 5 * SEC;
const RULE = 'rapid_guardrail_blocks';

function engineOn(redis: Redis, ruleset: string, maxOverflowIncidentsPerRule?: number) {
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
    ...(maxOverflowIncidentsPerRule !== undefined ? { maxOverflowIncidentsPerRule } : {}),
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

async function run(db: { clients: readonly Redis[]; redis: Redis }, overflow?: number) {
  const ruleset = freshRuleset('overflow');
  const a = engineOn(db.clients[0]!, ruleset, overflow);
  const b = engineOn(db.clients[1]!, ruleset, overflow);
  const [alice, bob] = [blocks('alice', T0, 10), blocks('bob', T0, 10)];
  for (let i = 0; i < 10; i++) for (const { event, t } of [alice[i]!, bob[i]!]) a.engine.ingest(event, t);
  a.engine.advanceTo(T0 + 9 * SEC + LATENESS);
  await a.engine.forceFlush();
  const index = ruleIndexKey(a.state, ruleset, defaultRules()[0]!);
  const fleet = [
    a.state.groupKey(ruleset, 'user_id', 'alice'),
    a.state.groupKey(ruleset, 'user_id', 'bob'),
  ].sort();
  expect((await db.redis.zrange(index, 0, -1)).sort()).toEqual(fleet);

  // Mallory: her first ten blocks reach process a (the rule holds at the tenth), the next five b.
  const mallory = blocks('mallory', T0 + 30 * SEC, 15);
  for (const { event, t } of mallory.slice(0, 10)) a.engine.ingest(event, t);
  a.engine.advanceTo(T0 + 39 * SEC + LATENESS);
  await a.engine.forceFlush();
  for (const { event, t } of mallory.slice(10)) b.engine.ingest(event, t);
  b.engine.advanceTo(T0 + 44 * SEC + LATENESS);
  await b.engine.forceFlush();
  return { a, b, index, fleet };
}

describe('RedisDetectionState: overflow incidents at the fleet cap', () => {
  const db = useRedis({ clients: 2 });

  it('a new group at the full cap fires on each process that sees it; the fleet open set is unchanged; each resolves', async () => {
    const { a, b, index, fleet } = await run(db);
    expect(lines(a.alerts, 'mallory')).toEqual(['firing']);
    expect(lines(b.alerts, 'mallory')).toEqual(['firing']);
    expect(a.engine.stats.incidentsRefused).toBe(1);
    expect(b.engine.stats.incidentsRefused).toBe(1);
    expect(a.engine.stats.state?.incidentsRefused).toBe(1);
    // The fleet's open set: still Alice and Bob.
    expect((await db.redis.zrange(index, 0, -1)).sort()).toEqual(fleet);
    // Each process lists the fleet's two and its own overflow incident.
    for (const p of [a, b])
      expect((await p.engine.openIncidents()).map((x) => x.labels.user_id).sort()).toEqual([
        'alice',
        'bob',
        'mallory',
      ]);
    // One alert in Alertmanager: the same label set from both processes.
    const [fa] = a.alerts.filter((x) => x.labels.user_id === 'mallory');
    const [fb] = b.alerts.filter((x) => x.labels.user_id === 'mallory');
    const opts = { maxTraceLinks: 0 } as unknown as Parameters<typeof toAlertmanagerAlert>[1];
    expect(toAlertmanagerAlert(fb!, opts).labels).toEqual(toAlertmanagerAlert(fa!, opts).labels);
    // b's later events extended its incident: it resolves 10 minutes after her last block.
    const end = T0 + 30 * MIN;
    for (const p of [a, b]) {
      p.engine.advanceTo(end);
      await p.engine.forceFlush();
    }
    expect(lines(a.alerts, 'mallory')).toEqual(['firing', 'resolved']);
    expect(lines(b.alerts, 'mallory')).toEqual(['firing', 'resolved']);
    const resolvedB = b.alerts.find((x) => x.labels.user_id === 'mallory' && x.status === 'resolved')!;
    expect(Date.parse(resolvedB.ends_at!)).toBe(T0 + 44 * SEC + 10 * MIN);
    expect(lines([...a.alerts, ...b.alerts], 'alice')).toEqual(['firing', 'resolved']);
    expect(await a.engine.openIncidents()).toEqual([]);
    expect(await b.engine.openIncidents()).toEqual([]);
    await Promise.all([a.engine.shutdown(), b.engine.shutdown()]);
  });

  it('with maxOverflowIncidentsPerRule 0 the refusal stays silent (the rule is blind to her)', async () => {
    const { a, b, index, fleet } = await run(db, 0);
    expect(lines([...a.alerts, ...b.alerts], 'mallory')).toEqual([]);
    expect(a.engine.stats.incidentsRefused + b.engine.stats.incidentsRefused).toBe(6);
    expect((await db.redis.zrange(index, 0, -1)).sort()).toEqual(fleet);
    await Promise.all([a.engine.shutdown(), b.engine.shutdown()]);
  });
});

describe('RedisDetectionState: overflow incidents while degraded', () => {
  const db = useRedis();

  it('an overflow incident still resolves (its resolved line) once Redis is unreachable', async () => {
    const ruleset = freshRuleset('overflow-degraded');
    const p = engineOn(db.redis, ruleset);
    const [alice, bob] = [blocks('alice', T0, 10), blocks('bob', T0, 10)];
    for (let i = 0; i < 10; i++) for (const { event, t } of [alice[i]!, bob[i]!]) p.engine.ingest(event, t);
    for (const { event, t } of blocks('mallory', T0 + 30 * SEC, 10)) p.engine.ingest(event, t);
    p.engine.advanceTo(T0 + 39 * SEC + LATENESS);
    await p.engine.forceFlush();
    expect(lines(p.alerts, 'mallory')).toEqual(['firing']);
    // Redis goes away: every call fails, so the engine runs degraded from the next round.
    const fail = () => Promise.reject(new Error('Redis gone'));
    p.state.cas = fail;
    p.state.advanceClock = fail;
    p.state.ping = fail;
    p.engine.advanceTo(T0 + 40 * SEC + LATENESS);
    await p.engine.forceFlush();
    expect(p.engine.stats.state?.mode).toBe('degraded');
    p.engine.advanceTo(T0 + 39 * SEC + 10 * MIN + LATENESS);
    expect(lines(p.alerts, 'mallory')).toEqual(['firing', 'resolved']);
    expect(p.engine.activeIncidents().filter((a) => a.labels.user_id === 'mallory')).toEqual([]);
    await p.engine.shutdown();
  });
});
