import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { refuseWrites } from '../../../test/support/redis-oom.ts';
import { defaultRules } from '../src/index.ts';
import { block, ev, T0, SEC } from './helpers.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';
import { until } from '../../../test/support/until.ts';

/**
 * Redis out of memory under `maxmemory-policy noeviction` refuses every write (the state's
 * scripts, `OOM command not allowed ...`) and still answers PING; so does a node that became a
 * replica (a failover with clients still on the old master: `READONLY`). The degraded probe was
 * a PING, so the engine went back to shared mode at every probe and degraded again at its next
 * round: a new episode, a warning and the gauge back to 0 every `probeIntervalMs` for as long as
 * Redis refused writes (26 episodes in 1.5 s at a 50 ms probe). Probed with a write, it stays in
 * one episode until Redis takes writes again.
 */

const servers: RedisHandle[] = [];
let redis: Redis | undefined;

afterEach(async () => {
  redis?.disconnect();
  for (const s of servers.splice(0)) await s.stop();
});

/** How Redis comes to refuse writes while answering PING, and how it takes them again. */
const refusals: [string, (r: Redis) => Promise<() => Promise<unknown>>][] = [
  [
    'out of memory (noeviction)',
    async (r) => {
      const takeWrites = await refuseWrites(r);
      await expect(r.set('probe-by-test', '1')).rejects.toThrow(/OOM/);
      return takeWrites;
    },
  ],
  [
    'a replica (READONLY)',
    async (r) => {
      const primary = await startRedis();
      servers.push(primary);
      await r.replicaof('127.0.0.1', primary.port);
      await expect(r.set('probe-by-test', '1')).rejects.toThrow(/READONLY/);
      return () => r.replicaof('NO', 'ONE');
    },
  ],
];

describe('RedisDetectionState: Redis answering PING and refusing writes', () => {
  it.each(refusals)('%s: one degraded episode until it takes writes again', async (_, refuse) => {
    const server = await startRedis();
    servers.push(server);
    redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
    redis.on('error', () => {});
    await redis.connect();
    // Refused writes are answered at once: the timeout is not what degrades here. 2 s, not
    // 250 ms: a round of a loaded host's Redis slower than that would open an episode of its
    // own (before the refusal, or after the writes are taken again) and break the count.
    const { engine, alerts } = redisEngine(redis, defaultRules(), 0, freshRuleset('refusing'), {
      commandTimeoutMs: 2_000,
      probeIntervalMs: 50,
    });
    for (let i = 0; i < 3; i++) engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
    await engine.forceFlush();
    expect(engine.stats.state?.mode).toBe('shared');

    const takeWrites = await refuse(redis);
    // The first round refused degrades the engine (awaited: a loaded host may take a while).
    engine.ingest(ev(block(T0 + 3 * SEC, 'mallory')).event, T0 + 3 * SEC);
    await until(() => engine.stats.state?.mode === 'degraded', 30_000); // a hang bound
    // Then 36 events 40 ms apart, probes every 50 ms meanwhile: degraded at every look.
    const modes: string[] = [];
    for (let i = 4; i < 40; i++) {
      engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
      await new Promise((r) => setTimeout(r, 40));
      modes.push(engine.stats.state!.mode);
    }
    // Every event since reached the local engine, none was dropped.
    expect(engine.stats.state?.degradedEvents).toBe(37);
    expect(engine.stats.state?.degradedEpisodes).toBe(1);
    expect(modes.every((m) => m === 'degraded')).toBe(true);
    expect(alerts.map((a) => `${a.rule}:${a.status}`)).toContain('rapid_guardrail_blocks:firing');

    // Writes taken again: the next probe's write succeeds and the engine is shared again.
    await takeWrites();
    await until(() => engine.stats.state?.mode === 'shared', 30_000, 20); // a hang bound
    engine.ingest(ev(block(T0 + 41 * SEC, 'trent')).event, T0 + 41 * SEC);
    await engine.forceFlush();
    expect(engine.stats.state?.mode).toBe('shared');
    expect(engine.stats.state?.degradedEpisodes).toBe(1);
    await engine.shutdown();
  });
});
