import { Cluster, type Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { startRedisCluster, type RedisClusterHandle } from '../../../test/support/redis.ts';
import { toAlertmanagerAlert } from '../src/sinks/alertmanager-payload.ts';
import {
  defaultRules,
  DetectionEngine,
  RedisDetectionState,
  type AlertSink,
  type FleetIncidentCheck,
} from '../src/index.ts';
import { ev, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';

/**
 * The fleet's adoption (FleetIncidentCheck.adopt) against a real redis-server: one holder of
 * the lease per ruleset, which lists the fleet's open incidents; the others get nothing; the
 * holder keeps it by calling again; it passes on once the holder stops; Redis down rejects.
 */

const LATENESS = 5 * SEC;
const LEASE_MS = 400;

function engineOn(redis: Redis | Cluster, ruleset: string) {
  const alerts: Alert[] = [];
  const got: FleetIncidentCheck[] = [];
  const sink: AlertSink = {
    name: 'checking',
    send: () => undefined,
    useFleet: (fleet) => got.push(fleet),
    forceFlush: async () => undefined,
    shutdown: async () => undefined,
  };
  const state = new RedisDetectionState({ redis, ruleset, commandTimeoutMs: 1_000, shutdownGraceMs: 0 });
  const engine = new DetectionEngine({
    rules: defaultRules(),
    allowedLatenessMs: LATENESS,
    state,
    sinks: [sink],
    onAlert: (a) => alerts.push(a),
  });
  expect(got).toHaveLength(1);
  expect(typeof got[0]!.adopt).toBe('function');
  return { engine, alerts, adopt: (ms: number) => got[0]!.adopt!(ms) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('fleet adoption lease (shared state)', () => {
  const db = useRedis({ clients: 3 });

  it('one holder lists the open incidents, as the firing process sent them; the lease passes on when it stops', async () => {
    const ruleset = freshRuleset('fleet-adopt-lease');
    const a = engineOn(db.clients[0]!, ruleset);
    const b = engineOn(db.clients[1]!, ruleset);
    for (let s = 0; s < 10; s++) {
      const { event, t } = ev({
        at: T0 + s * SEC,
        category: 'guardrail_block',
        user: 'alice',
        id: `alice-${s}`,
        trace: `${(s + 1).toString(16).padStart(32, '0')}`,
      });
      a.engine.ingest(event, t);
    }
    a.engine.advanceTo(T0 + 10 * SEC + LATENESS);
    await a.engine.forceFlush();
    const fired = a.alerts.filter((x) => x.status === 'firing');
    expect(fired.length).toBeGreaterThan(0);

    const listed = await a.adopt(LEASE_MS);
    expect(await b.adopt(LEASE_MS)).toEqual([]);
    // The copy Alertmanager gets from the adopter is the alert the firing process sent: same
    // labels (its identity there), startsAt and annotations, the trace links included (the
    // state keeps the trigger's trace, which the firing process's copy lists first).
    const opts = { traceUrlTemplate: 'http://jaeger/trace/{trace_id}', maxTraceLinks: 5 };
    const byId = new Map(listed.map((x) => [x.alert_id, x]));
    expect([...byId.keys()].sort()).toEqual(fired.map((x) => x.alert_id).sort());
    for (const original of fired) {
      expect(original.trigger?.trace_id).toBeDefined();
      const adopted = toAlertmanagerAlert(byId.get(original.alert_id)!, opts);
      expect(adopted.annotations.trace_links).toMatch(/^http:\/\/jaeger\/trace\//);
      expect(adopted).toEqual(toAlertmanagerAlert(original, opts));
    }
    // Without a trace template (the default), the whole payload is the same.
    for (const original of fired) {
      expect(toAlertmanagerAlert(byId.get(original.alert_id)!, { maxTraceLinks: 5 })).toEqual(
        toAlertmanagerAlert(original, { maxTraceLinks: 5 }),
      );
    }

    // The holder keeps it by calling again within the lease.
    for (let i = 0; i < 4; i++) {
      await sleep(LEASE_MS / 2);
      expect((await a.adopt(LEASE_MS)).length).toBe(fired.length);
      expect(await b.adopt(LEASE_MS)).toEqual([]);
    }
    // a stops calling (left): after the lease, b holds it.
    await sleep(LEASE_MS + 100);
    expect((await b.adopt(LEASE_MS)).length).toBe(fired.length);
    expect(await a.adopt(LEASE_MS)).toEqual([]);
    await Promise.all([a.engine.shutdown(), b.engine.shutdown()]);
  }, 30_000);

  it('a holder that shuts down hands the lease on at once (not after its time)', async () => {
    const ruleset = freshRuleset('fleet-adopt-release');
    const a = engineOn(db.clients[0]!, ruleset);
    const b = engineOn(db.clients[1]!, ruleset);
    for (let s = 0; s < 10; s++) {
      const { event, t } = ev({ at: T0 + s * SEC, category: 'guardrail_block', user: 'bob', id: `bob-${s}` });
      a.engine.ingest(event, t);
    }
    a.engine.advanceTo(T0 + 10 * SEC + LATENESS);
    await a.engine.forceFlush();
    const fired = a.alerts.filter((x) => x.status === 'firing').length;
    expect(fired).toBeGreaterThan(0);
    // A lease far longer than the test: only a's release can free it.
    expect((await a.adopt(60_000)).length).toBe(fired);
    expect(await b.adopt(60_000)).toEqual([]);
    await a.engine.shutdown();
    expect((await b.adopt(60_000)).length).toBe(fired);
    // Released only by its holder: b's lease stays when another engine stops.
    const c = engineOn(db.clients[0]!, ruleset);
    await c.engine.shutdown();
    expect((await b.adopt(60_000)).length).toBe(fired);
    await b.engine.shutdown();
  }, 30_000);

  it('rejects when Redis cannot be read (the sink adopts nothing)', async () => {
    const ruleset = freshRuleset('fleet-adopt-down');
    const a = engineOn(db.clients[2]!, ruleset);
    db.clients[2]!.disconnect();
    await expect(a.adopt(LEASE_MS)).rejects.toThrow();
    await a.engine.shutdown();
  }, 30_000);
});

describe('fleet adoption lease on a Redis Cluster (3 masters)', () => {
  let cluster: RedisClusterHandle;
  const clients: Cluster[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await cluster?.stop();
  });

  it('one holder lists the groups of every master; released at its stop', async () => {
    for (let i = 0; i < 2; i++)
      clients.push(new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } }));
    const ruleset = freshRuleset('fleet-adopt-cluster');
    const a = engineOn(clients[0]!, ruleset);
    const b = engineOn(clients[1]!, ruleset);
    // Twelve groups, one hash slot each: on several masters (all on one: odds 3^-11).
    for (let s = 0; s < 10; s++) {
      for (let u = 0; u < 12; u++) {
        const { event, t } = ev({
          at: T0 + s * SEC,
          category: 'guardrail_block',
          user: `user-${u}`,
          id: `u${u}-${s}`,
        });
        a.engine.ingest(event, t);
      }
    }
    a.engine.advanceTo(T0 + 10 * SEC + LATENESS);
    await a.engine.forceFlush();
    const fired = a.alerts.filter((x) => x.status === 'firing').map((x) => x.alert_id);
    expect(fired.length).toBeGreaterThanOrEqual(12);
    expect((await a.adopt(60_000)).map((x) => x.alert_id).sort()).toEqual([...fired].sort());
    expect(await b.adopt(60_000)).toEqual([]);
    await a.engine.shutdown();
    expect((await b.adopt(60_000)).map((x) => x.alert_id).sort()).toEqual([...fired].sort());
    await b.engine.shutdown();
  }, 60_000);
});
