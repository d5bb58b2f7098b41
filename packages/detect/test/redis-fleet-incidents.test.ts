import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisCluster, type RedisClusterHandle } from '../../../test/support/redis.ts';
import type { Alert } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, DetectionEngine, RedisDetectionState, type CodeRule } from '../src/index.ts';
import { decodeBody, encodeBody } from '../src/state/group-runner.ts';
import { ev, MIN, recordingEngine, SEC, T0 } from './helpers.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';
import { ruleStateId } from '../src/state/rule-identity.ts';
import { until } from '../../../test/support/until.ts';

/**
 * The fleet's open incidents (DetectionEngine.openIncidents, SharedEngine.openIncidents under
 * it): each engine on a shared state lists the incidents every engine opened, as their current
 * firing alerts, and none once resolved, plus what only it holds (code rules, incidents opened
 * while degraded), without listing one alert id twice; activeIncidents() still lists only what
 * the process holds. In memory, openIncidents() is activeIncidents().
 */

const db = useRedis({ clients: 2 });
const LATENESS = 5 * SEC;

const brief = (alerts: Alert[]) => alerts.map((a) => [a.rule, a.status, a.labels, a.user_ids]);

/** Ten guardrail blocks of `user`, one a second from `from`: fires rapid_guardrail_blocks. */
function tenBlocks(engine: DetectionEngine, user: string, from = T0): void {
  for (let i = 0; i < 10; i++) {
    const { event, t } = ev({ at: from + i * SEC, category: 'guardrail_block', user, id: `${user}${i}` });
    engine.ingest(event, t);
  }
}

/** A code rule (runs in each process's local engine): any one jailbreak event opens an incident. */
const anyJailbreak: CodeRule = {
  id: 'any_jailbreak',
  title: 'a jailbreak event',
  severity: 'warning',
  categories: ['jailbreak_detected'],
  window_ms: MIN,
  condition: { createState: () => null, update: () => true, describe: () => 'a jailbreak event' },
};

describe('RedisDetectionState: open incidents of the fleet', () => {
  it('two engines each list both engines’ incidents, and none once they resolve', async () => {
    const ruleset = freshRuleset('fleet');
    const [a, b] = db.clients.map((c) =>
      redisEngine(c, defaultRules(), LATENESS, ruleset, { shutdownGraceMs: 0 }),
    );
    for (const [engine, user] of [
      [a!.engine, 'alice'],
      [b!.engine, 'bob'],
    ] as const) {
      tenBlocks(engine, user);
      engine.advanceTo(T0 + 9 * SEC + LATENESS);
      await engine.forceFlush();
    }
    expect(brief([...a!.alerts, ...b!.alerts])).toHaveLength(2);
    const want = [
      ['rapid_guardrail_blocks', 'firing', { user_id: 'alice' }, ['alice']],
      ['rapid_guardrail_blocks', 'firing', { user_id: 'bob' }, ['bob']],
    ];
    const fromA = await a!.engine.openIncidents();
    expect(brief(fromA)).toEqual(want);
    expect(brief(await b!.engine.openIncidents())).toEqual(want);
    // The listing is the incidents' current state: the alert ids and evidence of the firing lines.
    const fired = [...a!.alerts, ...b!.alerts].sort((x, y) => x.alert_id.localeCompare(y.alert_id));
    expect(fromA.map((x) => [x.alert_id, x.evidence]).sort()).toEqual(
      fired.map((x) => [x.alert_id, x.evidence]).sort(),
    );
    // In memory, activeIncidents() held them; on the shared state it lists only local ones.
    expect(a!.engine.activeIncidents()).toEqual([]);

    // Quiet past the rule's quiet period: resolved by the sweep, gone from the listing.
    a!.engine.advanceTo(T0 + 9 * SEC + 11 * MIN + LATENESS);
    await a!.engine.forceFlush();
    expect([...a!.alerts, ...b!.alerts].filter((x) => x.status === 'resolved')).toHaveLength(2);
    expect(await b!.engine.openIncidents()).toEqual([]);
    expect(await a!.engine.openIncidents()).toEqual([]);
    await Promise.all([a!.engine.shutdown(), b!.engine.shutdown()]);
  });

  it('skips a group whose stored incident does not decode as one (one damaged key does not fail the listing)', async () => {
    const ruleset = freshRuleset('fleet-damaged');
    const { engine } = redisEngine(db.clients[0]!, defaultRules(), LATENESS, ruleset, { shutdownGraceMs: 0 });
    tenBlocks(engine, 'alice');
    tenBlocks(engine, 'bob', T0 + 5 * SEC);
    engine.advanceTo(T0 + 14 * SEC + LATENESS);
    await engine.forceFlush();
    expect(await engine.openIncidents()).toHaveLength(2);
    // Bob's group as another version (or damage) could leave it: the incident's fields missing.
    const key = `llmsec:det:{${ruleset}:user_id:bob}`;
    const stored = (await db.clients[0]!.get(key))!;
    const sep = stored.indexOf('|');
    const body = decodeBody(stored.slice(sep + 1));
    const sid = ruleStateId(defaultRules().find((r) => r.id === 'rapid_guardrail_blocks')!);
    expect(body.i[sid]).toBeDefined();
    body.i[sid] = {} as never;
    await db.clients[0]!.set(key, `${stored.slice(0, sep)}|${encodeBody(body)}`, 'KEEPTTL');
    expect(brief(await engine.openIncidents())).toEqual([
      ['rapid_guardrail_blocks', 'firing', { user_id: 'alice' }, ['alice']],
    ]);
    await db.clients[0]!.del(key);
    await engine.shutdown();
  });

  it('reads at most maxOpenIncidentsPerRule groups per rule, however many ids opened incidents', async () => {
    const redis = db.clients[0]!;
    const alerts: Alert[] = [];
    const engine = new DetectionEngine({
      rules: defaultRules(),
      allowedLatenessMs: LATENESS,
      state: new RedisDetectionState({
        redis,
        ruleset: freshRuleset('fleet-cap'),
        commandTimeoutMs: 5_000,
        shutdownGraceMs: 0,
        maxOpenIncidentsPerRule: 5,
      }),
      onAlert: (x) => alerts.push(x),
    });
    const users = Array.from({ length: 40 }, (_, i) => `invented${i}`);
    for (let s = 0; s < 10; s++) {
      for (const user of users) {
        const { event, t } = ev({ at: T0 + s * SEC, category: 'guardrail_block', user, id: `${user}-${s}` });
        engine.ingest(event, t);
      }
    }
    engine.advanceTo(T0 + 9 * SEC + LATENESS);
    await engine.forceFlush();
    // Five open in the fleet; the other ids' incidents were refused a slot at the cap, and fired
    // from this process's overflow tier.
    expect(alerts).toHaveLength(40);
    // The group reads the listing sends (EVALSHA of the compare-and-set script).
    const client = redis as unknown as { sendCommand: (cmd: { name: string }) => unknown };
    const send = client.sendCommand;
    let reads = 0;
    client.sendCommand = function (this: unknown, cmd: { name: string }) {
      if (cmd.name === 'evalsha' || cmd.name === 'eval') reads++;
      return send.call(this, cmd);
    };
    let listed: Alert[];
    try {
      listed = await engine.openIncidents();
    } finally {
      client.sendCommand = send;
    }
    // The fleet's five (read from Redis: at most the cap) and this process's 35 overflow incidents.
    expect(listed).toHaveLength(40);
    expect(reads).toBeLessThanOrEqual(5);
    expect(engine.stats.state?.incidentsRefused).toBe(users.length - 5);
    expect(engine.stats.incidentsRefused).toBe(users.length - 5);
    await engine.shutdown();
  });

  it('skips index entries whose group expired or has no open incident any more (resolved after the index was read)', async () => {
    const ruleset = freshRuleset('fleet-stale');
    const redis = db.clients[0]!;
    const { engine } = redisEngine(redis, defaultRules(), LATENESS, ruleset, { shutdownGraceMs: 0 });
    tenBlocks(engine, 'alice');
    // Bob: two blocks, a group in Redis with no incident.
    for (let i = 5; i < 7; i++) {
      const { event, t } = ev({ at: T0 + i * SEC, category: 'guardrail_block', user: 'bob', id: `bob${i}` });
      engine.ingest(event, t);
    }
    engine.advanceTo(T0 + 9 * SEC + LATENESS);
    await engine.forceFlush();
    const rule = defaultRules().find((r) => r.id === 'rapid_guardrail_blocks')!;
    const index = `llmsec:det:{${ruleset}}:open:${ruleStateId(rule)}`;
    expect(await redis.zrange(index, 0, -1)).toEqual([`llmsec:det:{${ruleset}:user_id:alice}`]);
    expect(await redis.exists(`llmsec:det:{${ruleset}:user_id:bob}`)).toBe(1);
    await redis.zadd(
      index,
      T0,
      `llmsec:det:{${ruleset}:user_id:bob}`,
      T0,
      `llmsec:det:{${ruleset}:user_id:gone}`,
    );
    expect(brief(await engine.openIncidents())).toEqual([
      ['rapid_guardrail_blocks', 'firing', { user_id: 'alice' }, ['alice']],
    ]);
    await engine.shutdown();
  });

  it('in memory, openIncidents() is activeIncidents()', async () => {
    const { engine } = recordingEngine();
    tenBlocks(engine, 'mallory');
    engine.flush();
    expect(engine.activeIncidents()).toHaveLength(1);
    expect(await engine.openIncidents()).toEqual(engine.activeIncidents());
  });

  it('adds the incidents of this process’s code rules after the fleet’s', async () => {
    const ruleset = freshRuleset('fleet-code');
    const engines = db.clients.map((redis) => {
      const alerts: Alert[] = [];
      const engine = new DetectionEngine({
        rules: [...defaultRules(), anyJailbreak],
        allowedLatenessMs: LATENESS,
        state: new RedisDetectionState({ redis, ruleset, commandTimeoutMs: 5_000, shutdownGraceMs: 0 }),
        onAlert: (x) => alerts.push(x),
      });
      return { engine, alerts };
    });
    const [a, b] = engines as [(typeof engines)[0], (typeof engines)[0]];
    tenBlocks(a.engine, 'alice');
    const jb = ev({ at: T0 + 9 * SEC, category: 'jailbreak_detected', user: 'alice', id: 'jb1' });
    a.engine.ingest(jb.event, jb.t);
    a.engine.advanceTo(T0 + 9 * SEC + LATENESS);
    await a.engine.forceFlush();
    expect(
      brief(a.alerts)
        .map((x) => x[0])
        .sort(),
    ).toEqual(['any_jailbreak', 'rapid_guardrail_blocks']);

    const fleet = [['rapid_guardrail_blocks', 'firing', { user_id: 'alice' }, ['alice']]];
    expect(brief(await a.engine.openIncidents())).toEqual([
      ...fleet,
      ['any_jailbreak', 'firing', { user_id: 'alice' }, ['alice']],
    ]);
    // The code rule ran in A's process only: B lists the fleet's incidents, not A's local one.
    expect(brief(await b.engine.openIncidents())).toEqual(fleet);
    await Promise.all([a.engine.shutdown(), b.engine.shutdown()]);
  });

  it('an incident fired locally in a degraded episode and also in Redis is listed once (handed back on the return); rejects while Redis is unreachable', async () => {
    const ruleset = freshRuleset('fleet-degraded');
    // A's own connection, closed and reopened by the test (B keeps the shared one).
    const conn = new Redis(db.server.url, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      lazyConnect: true,
    });
    conn.on('error', () => {});
    await conn.connect();
    const a = redisEngine(conn, defaultRules(), LATENESS, ruleset, {
      shutdownGraceMs: 0,
      probeIntervalMs: 50,
    });
    const b = redisEngine(db.clients[1]!, defaultRules(), LATENESS, ruleset, { shutdownGraceMs: 0 });
    conn.disconnect();
    // A, cut off, detects locally; B, shared, sees the same ten blocks: the same incident
    // (the alert id is a hash of rule, group and start time) once in A's memory, once in Redis.
    for (const { engine } of [a, b]) {
      tenBlocks(engine, 'mallory');
      engine.advanceTo(T0 + 9 * SEC + LATENESS);
      await engine.forceFlush();
    }
    expect(a.engine.stats.state?.mode).toBe('degraded');
    expect(b.engine.stats.state?.mode).toBe('shared');
    expect(a.alerts.map((x) => x.alert_id)).toEqual(b.alerts.map((x) => x.alert_id));
    expect(a.alerts).toHaveLength(1);
    await expect(a.engine.openIncidents()).rejects.toThrow();

    // The disconnect has closed the socket (on a loaded machine connect() may otherwise throw).
    await until(() => conn.status === 'end', 2_000);
    await conn.connect();
    await until(() => a.engine.stats.state?.mode === 'shared', 5_000);
    // The mode flips before the hand-back runs (it is scheduled on the return): wait for it.
    await a.engine.forceFlush();
    // Back on Redis, A hands its local incident to the fleet (1047c04, 7781316): Redis already
    // holds the same incident (same start, same alert id), so A's copy counts as moved and A
    // holds nothing of its own; the fleet lists the incident once, as B does.
    expect(a.engine.activeIncidents()).toEqual([]);
    const listed = await a.engine.openIncidents();
    expect(listed.map((x) => x.alert_id)).toEqual([a.alerts[0]!.alert_id]);
    expect(listed).toEqual(await b.engine.openIncidents());
    await Promise.all([a.engine.shutdown(), b.engine.shutdown()]);
    conn.disconnect();
  });
});

describe('RedisDetectionState: open incidents of the fleet on a Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  /** How many masters own these keys' slots. */
  async function masters(keys: string[]): Promise<number> {
    const node = new Redis(cluster.nodes[0]!.port, '127.0.0.1');
    try {
      const ranges = (await node.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
      const owners = new Set<number>();
      for (const key of keys) {
        const slot = Number(await node.call('CLUSTER', 'KEYSLOT', key));
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        if (range !== undefined) owners.add(range[2][1]);
      }
      return owners.size;
    } finally {
      node.disconnect();
    }
  }

  it('lists incidents whose groups live on every master (the index and the groups are in different slots)', async () => {
    const ruleset = freshRuleset('fleet-cluster');
    const clients = [0, 1].map(
      () => new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } }),
    );
    try {
      const [a, b] = clients.map((c) =>
        redisEngine(c, defaultRules(), LATENESS, ruleset, { shutdownGraceMs: 0 }),
      );
      const users = Array.from({ length: 12 }, (_, i) => `user${i}`);
      // Group keys hash to slots on all three masters (checked below, so the test means something).
      expect(await masters(users.map((u) => `llmsec:det:{${ruleset}:user_id:${u}}`))).toBe(3);
      // Ten blocks per user, one a second, in time order; users alternate between the engines.
      for (let s = 0; s < 10; s++) {
        users.forEach((user, i) => {
          const { event, t } = ev({ at: T0 + s * SEC, category: 'guardrail_block', user, id: `${user}${s}` });
          (i % 2 === 0 ? a : b)!.engine.ingest(event, t);
        });
      }
      // Both ship their blocks before either declares a time a lateness past them: a round cuts
      // its batch at the clock others shipped (shared-engine.ts), so b's blocks, shipped after
      // a's advanceTo, would be late there, as advanceTo says (no older event will count).
      await Promise.all([a!.engine.shipped(), b!.engine.shipped()]);
      for (const { engine } of [a!, b!]) {
        engine.advanceTo(T0 + 9 * SEC + LATENESS);
        await engine.forceFlush();
      }
      expect([...a!.alerts, ...b!.alerts]).toHaveLength(users.length);
      const want = users.map((u) => ['rapid_guardrail_blocks', 'firing', { user_id: u }, [u]]);
      const byUser = (x: unknown[], y: unknown[]) => JSON.stringify(x[2]).localeCompare(JSON.stringify(y[2]));
      expect(brief(await a!.engine.openIncidents()).sort(byUser)).toEqual(want.sort(byUser));
      expect(brief(await b!.engine.openIncidents()).sort(byUser)).toEqual(want.sort(byUser));
      await Promise.all([a!.engine.shutdown(), b!.engine.shutdown()]);
    } finally {
      for (const c of clients) c.disconnect();
    }
  }, 60_000);
});
