import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { startRedisCluster, type RedisClusterHandle } from '../../../test/support/redis.ts';
import {
  defaultRules,
  DetectionEngine,
  RedisDetectionState,
  type AlertSink,
  type FleetAlertRef,
  type FleetIncidentCheck,
} from '../src/index.ts';
import { alertRevision } from '../src/incident.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';

/**
 * The fleet check a shared-mode engine hands its sinks (AlertSink.useFleet), against a real
 * redis-server: which firing alerts the shared state no longer holds open.
 */

const LATENESS = 5 * SEC;

/** A sink that only keeps what the engine hands it. */
function checkingSink() {
  const got: FleetIncidentCheck[] = [];
  const sink: AlertSink = {
    name: 'checking',
    send: () => undefined,
    useFleet: (fleet) => got.push(fleet),
    forceFlush: async () => undefined,
    shutdown: async () => undefined,
  };
  return { sink, got };
}

const blocks = (user: string, from: number, n: number) =>
  Array.from({ length: n }, (_, s) =>
    ev({ at: from + s * SEC, category: 'guardrail_block', user, id: `${user}-${from + s * SEC}` }),
  );

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Answers of the check: nothing closed, or these ended (no incident of the rule left in the group). */
const none = expect.objectContaining({ ended: new Set(), superseded: new Set() });
const ended = (ids: Iterable<string>) =>
  expect.objectContaining({ ended: new Set(ids), superseded: new Set() });

const ref = (a: Alert): FleetAlertRef => ({ alert_id: a.alert_id, rule: a.rule, labels: a.labels });

function engineOn(
  redis: Redis | Cluster,
  ruleset: string,
  maxOpenIncidentsPerRule?: number,
  probeIntervalMs?: number,
) {
  const alerts: Alert[] = [];
  const { sink, got } = checkingSink();
  const state = new RedisDetectionState({
    redis,
    ruleset,
    commandTimeoutMs: 5_000,
    shutdownGraceMs: 0,
    ...(maxOpenIncidentsPerRule !== undefined ? { maxOpenIncidentsPerRule } : {}),
    ...(probeIntervalMs !== undefined ? { probeIntervalMs } : {}),
  });
  const e = new DetectionEngine({
    rules: defaultRules(),
    allowedLatenessMs: LATENESS,
    state,
    sinks: [sink],
    onAlert: (a) => alerts.push(a),
  });
  expect(got).toHaveLength(1);
  return { engine: e, alerts, check: got[0]! };
}

describe('fleet check (shared state)', () => {
  const db = useRedis({ clients: 2 });
  const engine = (ruleset: string, client = 0, maxOpen?: number) =>
    engineOn(db.clients[client]!, ruleset, maxOpen);

  it('open, resolved elsewhere, a later incident of the group, no group, unknown rule, damaged state', async () => {
    const ruleset = freshRuleset('fleet-check');
    const a = engine(ruleset, 0);
    const b = engine(ruleset, 1);
    for (const { event, t } of blocks('alice', T0, 10)) a.engine.ingest(event, t);
    a.engine.advanceTo(T0 + 10 * SEC + LATENESS);
    await a.engine.forceFlush();
    const fired = a.alerts.filter((x) => x.status === 'firing');
    expect(fired.length).toBeGreaterThan(0);
    const refs = fired.map(ref);
    // Open in the fleet: asked from either process.
    expect(await a.check.closed(refs)).toEqual(none);
    expect(await b.check.closed(refs)).toEqual(none);
    const first = fired[0]!;
    const notOurs: FleetAlertRef[] = [
      { ...ref(first), alert_id: 'ALR-0000000000000000' }, // same group, another incident
      { ...ref(first), labels: { user_id: 'nobody' } }, // a group the state does not have
    ];
    expect(await a.check.closed(notOurs)).toEqual({
      ended: new Set([first.alert_id]),
      superseded: new Set(['ALR-0000000000000000']),
      users: new Map(),
      current: new Map(),
    });
    // Open ones come with the users the fleet holds for them, and as their current firing
    // alert: the one a fired (nothing happened since), its trigger's trace kept in the state.
    const answer = await b.check.closed(refs);
    expect(answer.users).toEqual(new Map(fired.map((x) => [x.alert_id, x.user_ids])));
    expect(answer.current).toEqual(
      new Map(
        fired.map((x) => [
          x.alert_id,
          x.trigger === undefined ? x : { ...x, trigger: { trace_id: x.trigger.trace_id } },
        ]),
      ),
    );
    // Asked with what each copy shows (alertRevision): unchanged ones are not rebuilt; one
    // that shows other evidence is.
    const same = await b.check.closed(fired.map((x) => ({ ...ref(x), revision: alertRevision(x) })));
    expect(same.current).toEqual(new Map());
    expect(same.users).toEqual(answer.users);
    const stale = await b.check.closed([
      { ...ref(first), revision: alertRevision({ ...first, evidence: [] }) },
    ]);
    expect([...stale.current!.keys()]).toEqual([first.alert_id]);
    // Not the check's to tell: a rule it does not hold, a label the rule does not group by.
    expect(await a.check.closed([{ ...ref(first), rule: 'no_such_rule' }])).toEqual(none);
    expect(await a.check.closed([{ ...ref(first), labels: { fingerprint: 'alice' } }])).toEqual(none);

    // b's sweep resolves them: closed, asked from a, which never saw the resolve.
    b.engine.advanceTo(T0 + 30 * MIN);
    await b.engine.forceFlush();
    expect(
      b.alerts
        .filter((x) => x.status === 'resolved')
        .map((x) => x.alert_id)
        .sort(),
    ).toEqual(fired.map((x) => x.alert_id).sort());
    expect(await a.check.closed(refs)).toEqual(ended(fired.map((x) => x.alert_id)));

    // A state that does not decode: not counted as closed (a wrong "closed" resolves a live incident).
    const keys = await db.clients[0]!.keys(`*${ruleset}*alice*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) await db.clients[0]!.set(key, '7|not a state', 'PX', 60_000);
    expect(await a.check.closed(refs)).toEqual(none);
    await Promise.all([a.engine.shutdown(), b.engine.shutdown()]);
  }, 30_000);

  it('an incident held only in this process (its overflow tier) is open, though Redis has none', async () => {
    const ruleset = freshRuleset('fleet-check-overflow');
    const a = engine(ruleset, 0, 2);
    const users = ['alice', 'bob', 'mallory'];
    const streams = users.map((u) => blocks(u, T0, 10));
    for (let i = 0; i < 10; i++) for (const s of streams) a.engine.ingest(s[i]!.event, s[i]!.t);
    a.engine.advanceTo(T0 + 10 * SEC + LATENESS);
    await a.engine.forceFlush();
    const overflow = a.engine.activeIncidents();
    expect(overflow.length).toBeGreaterThan(0);
    expect(await a.check.closed(overflow.map(ref))).toEqual(none);
    // The same alerts asked from another process (which does not hold them): closed there.
    const b = engine(ruleset, 1, 2);
    expect(await b.check.closed(overflow.map(ref))).toEqual(ended(overflow.map((x) => x.alert_id)));
    await Promise.all([a.engine.shutdown(), b.engine.shutdown()]);
  }, 30_000);

  it('an incident opened while Redis was down, handed back, then resolved by another process: closed', async () => {
    const ruleset = freshRuleset('fleet-check-handback');
    // a's own connection, closed and reopened by the test (b keeps the shared one).
    const conn = new Redis(db.server.url, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      lazyConnect: true,
    });
    conn.on('error', () => {});
    await conn.connect();
    const a = engineOn(conn, ruleset, undefined, 50);
    const b = engine(ruleset, 1);
    conn.disconnect();
    for (const { event, t } of blocks('dave', T0, 10)) a.engine.ingest(event, t);
    a.engine.advanceTo(T0 + 10 * SEC + LATENESS);
    await a.engine.forceFlush();
    expect(a.engine.stats.state?.mode).toBe('degraded');
    const fired = a.alerts.filter((x) => x.status === 'firing');
    expect(fired.length).toBeGreaterThan(0);
    // Held by a's fallback: open, without asking Redis.
    expect(await a.check.closed(fired.map(ref))).toEqual(none);
    const start = Date.now();
    while (a.engine.activeIncidents().length > 0 && Date.now() - start < 5_000) {
      // Reconnect; a connect already under way (a probe's command, lazyConnect) says so and is let be.
      if (conn.status === 'end' || conn.status === 'wait') await conn.connect().catch(() => undefined);
      await sleep(20);
    }
    expect([a.engine.stats.state?.mode, conn.status]).toEqual(['shared', 'ready']);
    // Handed back: no longer held here, and open in the fleet.
    expect(a.engine.activeIncidents()).toEqual([]);
    const open = await b.check.closed(fired.map(ref));
    expect(open).toEqual(none);
    // Each open one as its current alert, from whichever master holds its group.
    expect([...open.current!.keys()].sort()).toEqual(fired.map((x) => x.alert_id).sort());
    for (const x of fired) expect(open.current!.get(x.alert_id)!.evidence).toEqual(x.evidence);
    b.engine.advanceTo(T0 + 30 * MIN);
    await b.engine.forceFlush();
    expect(
      b.alerts
        .filter((x) => x.status === 'resolved')
        .map((x) => x.alert_id)
        .sort(),
    ).toEqual(fired.map((x) => x.alert_id).sort());
    expect(await a.check.closed(fired.map(ref))).toEqual(ended(fired.map((x) => x.alert_id)));
    await Promise.all([a.engine.shutdown(), b.engine.shutdown()]);
    conn.disconnect();
  }, 30_000);

  it('an engine on memory hands its sinks no check', () => {
    const { sink, got } = checkingSink();
    const e = new DetectionEngine({ rules: defaultRules(), sinks: [sink] });
    expect(got).toHaveLength(0);
    void e.shutdown();
  });
});

describe('fleet check on a Redis Cluster (3 masters)', () => {
  let cluster: RedisClusterHandle;
  const clients: Cluster[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await cluster?.stop();
  });

  it('groups on every master: open, then closed once another process resolved them', async () => {
    for (let i = 0; i < 2; i++)
      clients.push(new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } }));
    const ruleset = freshRuleset('fleet-check-cluster');
    const a = engineOn(clients[0]!, ruleset);
    const b = engineOn(clients[1]!, ruleset);
    const users = Array.from({ length: 12 }, (_, i) => `user-${i}`);
    const streams = users.map((u) => blocks(u, T0, 10));
    for (let i = 0; i < 10; i++) for (const s of streams) a.engine.ingest(s[i]!.event, s[i]!.t);
    a.engine.advanceTo(T0 + 10 * SEC + LATENESS);
    await a.engine.forceFlush();
    const fired = a.alerts.filter((x) => x.status === 'firing');
    expect(new Set(fired.map((x) => x.labels.user_id)).size).toBe(users.length);
    // Twelve groups, one hash slot each, on three masters (all on one master: odds 3^-11), so
    // one check reads from several nodes.
    const masters = await clients[0]!.cluster('SLOTS');
    expect(masters).toHaveLength(3);
    const open = await b.check.closed(fired.map(ref));
    expect(open).toEqual(none);
    // Each open one as its current alert, from whichever master holds its group.
    expect([...open.current!.keys()].sort()).toEqual(fired.map((x) => x.alert_id).sort());
    for (const x of fired) expect(open.current!.get(x.alert_id)!.evidence).toEqual(x.evidence);
    b.engine.advanceTo(T0 + 30 * MIN);
    await b.engine.forceFlush();
    expect(await a.check.closed(fired.map(ref))).toEqual(ended(fired.map((x) => x.alert_id)));
    await Promise.all([a.engine.shutdown(), b.engine.shutdown()]);
  }, 60_000);
});
