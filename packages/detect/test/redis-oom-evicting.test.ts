import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { until } from '../../../test/support/until.ts';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { block, ev, T0, SEC } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';

/**
 * After writes refused for memory, the degraded probe asks Redis for room before going back to
 * shared mode (probe-room.ts), read from `INFO memory` (probe-memory.ts). That figure is the
 * room under `noeviction` only: under an evicting policy (`allkeys-lru`, `volatile-*`) Redis at
 * its limit takes a write by evicting other keys, and INFO shows next to no room while every
 * write is taken. An operator who answers an out-of-memory Redis by switching it to
 * `allkeys-lru` (a common fix) left the engine degraded for as long as Redis stayed near its
 * limit: no probe passed, since nothing the probe did freed memory (891973e1; the pad it wrote
 * before that commit evicted as a round's writes would). Under an evicting policy the probe
 * now learns the room by writing, as where INFO is refused.
 *
 * A real redis-server: other keys (a cache's, 4 MB), the limit 256 KB over the memory in use
 * (`noeviction`), a round of 2,000 new groups refused, then the policy switched.
 */

const servers: RedisHandle[] = [];
const clients: Redis[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  for (const s of servers.splice(0)) await s.stop();
});

async function used(node: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await node.info('memory'))![1]);
}

it.each(['allkeys-lru', 'volatile-lru'])(
  'refused for memory, then Redis switched to %s: the probe passes by evicting, back to shared mode',
  async (policy) => {
    const server = await startRedis();
    servers.push(server);
    const connect = async (): Promise<Redis> => {
      const r = new Redis(server.url, {
        lazyConnect: true,
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
      });
      r.on('error', () => {});
      clients.push(r);
      await r.connect();
      return r;
    };
    const admin = await connect();
    const redis = await connect();
    // Another application's keys, 4 MB (with a TTL, so volatile-lru may evict them too).
    const filler = admin.pipeline();
    for (let i = 0; i < 1_000; i++) filler.set(`cache:${i}`, 'c'.repeat(4_096), 'EX', 3_600);
    await filler.exec();
    const state = new RedisDetectionState({
      redis,
      ruleset: freshRuleset('evicting'),
      // A bound on a hung call only: a refusal (OOM) answers at once.
      commandTimeoutMs: 10_000,
      probeIntervalMs: 50,
    });
    const engine = new DetectionEngine({ rules: defaultRules(), allowedLatenessMs: 0, state });
    engine.ingest(ev(block(T0, 'first')).event, T0);
    await engine.forceFlush();
    expect(engine.stats.state?.mode).toBe('shared');

    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', String((await used(admin)) + 256 * 1024));
    // One round of 2,000 new groups (~1.1 MB): more than the room left, refused for memory.
    for (let i = 0; i < 2_000; i++) engine.ingest(ev(block(T0 + SEC, `user-${i}`)).event, T0 + SEC);
    await engine.forceFlush();
    expect(engine.stats.state?.mode).toBe('degraded');

    // The operator's answer: an evicting policy. Redis now takes every write, evicting the cache.
    await admin.config('SET', 'maxmemory-policy', policy);
    // Before: INFO showed under 1 MiB of room however many probes ran; degraded for good.
    await until(() => engine.stats.state?.mode === 'shared', 60_000, 10);
    await engine.forceFlush();
    expect(engine.stats.state?.mode).toBe('shared');
    expect(engine.stats.state?.degradedEpisodes).toBe(1);
    // The held round went to Redis, whole.
    expect(engine.stats.state?.resent).toBe(2_000);
    expect(Number(/evicted_keys:(\d+)/.exec(await admin.info('stats'))![1])).toBeGreaterThan(0);
    await engine.shutdown();
  },
  180_000,
);
