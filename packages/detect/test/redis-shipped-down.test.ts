import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { defaultRules } from '../src/index.ts';
import { block, ev, T0, SEC } from './helpers.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';

/**
 * engine.shipped() with Redis gone: the events it waits for go to the fallback engine when the
 * round fails (degraded mode), and that ends the wait, within about the command timeout. The
 * detector answers exports after it, so an outage must not hold its answers.
 */

let server: RedisHandle;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: () => 50,
  });
  redis.on('error', () => {}); // connection errors while the server is down are expected here
  await redis.connect();
});

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

describe('DetectionEngine.shipped() with Redis down', () => {
  it('resolves once the queued events went to the fallback engine', async () => {
    const { engine } = redisEngine(redis, defaultRules(), 0, freshRuleset('shipped-down'), {
      commandTimeoutMs: 250,
      probeIntervalMs: 100,
    });
    engine.ingest(ev(block(T0, 'mallory')).event, T0);
    await engine.shipped();
    expect(engine.stats.state?.mode).toBe('shared');

    await server.kill();
    for (let i = 1; i < 6; i++) engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
    const start = Date.now();
    await engine.shipped();
    const waited = Date.now() - start;
    expect(engine.stats.state?.mode).toBe('degraded');
    // In the fallback: not lost, counted as detected locally.
    expect(engine.stats.state?.degradedEvents).toBe(5);
    // The command timeout (250 ms) bounds it; slack for a loaded machine.
    expect(waited).toBeLessThan(2_000);
    // Degraded, ingest goes to the fallback at once: nothing to wait for.
    engine.ingest(ev(block(T0 + 6 * SEC, 'mallory')).event, T0 + 6 * SEC);
    await engine.shipped();
    await engine.shutdown();
  });
});
