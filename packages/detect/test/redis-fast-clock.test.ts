import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, SecurityEvent } from '@llmsec/core';
import { RedisDetectionState, type EngineStats } from '../src/index.ts';
import {
  startRedis,
  startRedisCluster,
  type RedisClusterHandle,
  type RedisHandle,
} from '../../../test/support/redis.ts';
import { call, startChild, type Child } from './engine-children.ts';
import { freshRuleset } from './redis-support.ts';
import { injectionBlock } from './helpers.ts';

/**
 * A replica whose wall clock runs ahead (a misconfigured or hostile host) among replicas in
 * step, each a real process on one redis-server (then a 3-master Cluster). A round that is
 * not the end of input held the shared clock to the replica's own wall clock (df56b4a), so a
 * record stamped ahead of real time (a sender's clock, a forger; within maxFutureSkewMs)
 * reaching the fast replica moved the fleet's clock as far as that replica's clock: every
 * other replica's live events were late until real time caught up (an attack dropped, no
 * alert). The clock script now holds such a round to the Redis server's clock (TIME) plus
 * maxClockSkewMs (1 s), so the others lose nothing; the fast replica, told by the script how
 * far ahead it runs, holds its own events to the server's time as well.
 */

const LATENESS = 5_000;
const FAST = 5 * 60_000;
const AHEAD = 4 * 60_000;

const firing = (alerts: Alert[]) =>
  alerts.filter((a) => a.status === 'firing').map((a) => `${a.rule} ${a.user_ids.join(',')}`);

async function fleet(
  target: { url: string } | { nodes: { host: string; port: number }[] },
  reader: Redis | Cluster,
): Promise<{ late: number[]; alerts: string[]; clockAhead: number }> {
  const ruleset = freshRuleset('fast');
  const base = { ...target, ruleset, latenessMs: LATENESS };
  const children: Child[] = [
    startChild(base),
    startChild(base),
    startChild({ ...base, clockOffsetMs: FAST }),
  ];
  try {
    const [a, b, fast] = children as [Child, Child, Child];
    const send = (c: Child, e: SecurityEvent) => call(c, { events: [[e, Date.parse(e.timestamp)]] });
    // The fast replica receives a record stamped 4 minutes ahead of real time (behind its clock).
    await send(fast, injectionBlock('EVT-ahead', 'forger', Date.now() + AHEAD));
    // mallory's attack, live, 12 blocks 50 ms apart dealt to the three replicas in turn.
    for (let i = 0; i < 12; i++) {
      await send([a, b, fast][i % 3]!, injectionBlock(`EVT-${i}`, 'mallory', Date.now()));
      await new Promise((r) => setTimeout(r, 50));
    }
    const clock = Number(await reader.get(`llmsec:det:{${ruleset}}:clock`));
    const clockAhead = clock - Date.now();
    for (let pass = 0; pass < 2; pass++) await Promise.all(children.map((c) => call(c, { flush: true })));
    const stats = await Promise.all(children.map((c) => call(c, { stop: true })));
    return {
      late: stats.map((s) => (s.stats as EngineStats | undefined)?.droppedLate ?? -1),
      alerts: children.flatMap((c) => firing(c.alerts)),
      clockAhead,
    };
  } finally {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill();
  }
}

describe('a replica whose clock runs 5 minutes ahead', () => {
  let server: RedisHandle;
  let cluster: RedisClusterHandle;
  let redis: Redis;
  let clusterClient: Cluster;

  beforeAll(async () => {
    server = await startRedis();
    cluster = await startRedisCluster(3);
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    clusterClient = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  }, 60_000);

  afterAll(async () => {
    redis?.disconnect();
    clusterClient?.disconnect();
    await server?.stop();
    await cluster?.stop();
  });

  it('does not move the shared clock past the Redis server’s: no replica loses an event', async () => {
    const got = await fleet({ url: server.url }, redis);
    expect(got.late).toEqual([0, 0, 0]);
    expect(got.alerts).toContain('rapid_guardrail_blocks mallory');
    // The clock held to the server's time plus 1 s, not the fast replica's 4 minutes ahead.
    expect(got.clockAhead).toBeLessThan(2_000);
  }, 60_000);

  it('maxClockSkewMs: a finite number >= 0, else a clear error at construction', () => {
    for (const bad of [-1, Number.NaN, Infinity]) {
      expect(() => new RedisDetectionState({ redis, maxClockSkewMs: bad })).toThrow(
        /maxClockSkewMs must be a finite number >= 0/,
      );
    }
    expect(new RedisDetectionState({ redis, maxClockSkewMs: 0 }).maxClockSkewMs).toBe(0);
  });

  it('Redis Cluster (3 masters): the same', async () => {
    const got = await fleet({ nodes: cluster.nodes }, clusterClient);
    expect(got.late).toEqual([0, 0, 0]);
    expect(got.alerts).toContain('rapid_guardrail_blocks mallory');
    expect(got.clockAhead).toBeLessThan(2_000);
  }, 60_000);
});
