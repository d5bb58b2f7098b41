import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { defaultRules } from '../src/index.ts';
import { block, ev, T0, SEC } from './helpers.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';
import { until } from '../../../test/support/until.ts';

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
    // Redis killed, the round waits for the reconnecting client until this timeout, then fails
    // to the fallback. 2 s, not 250 ms: a loaded host's Redis slower than that before the kill
    // would degrade the first round too (and the engine would not be shared below).
    const { engine } = redisEngine(redis, defaultRules(), 0, freshRuleset('shipped-down'), {
      commandTimeoutMs: 2_000,
      probeIntervalMs: 100,
    });
    engine.ingest(ev(block(T0, 'mallory')).event, T0);
    await engine.shipped();
    expect(engine.stats.state?.mode).toBe('shared');

    await server.kill();
    for (let i = 1; i < 6; i++) engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
    // The command timeout (2 s) bounds the wait: 20 s bounds a wait for Redis to come back (it
    // never does here), not a measure of speed.
    let shipped = false;
    void engine.shipped().then(() => (shipped = true));
    await until(() => shipped, 20_000);
    expect(engine.stats.state?.mode).toBe('degraded');
    // In the fallback: not lost, counted as detected locally.
    expect(engine.stats.state?.degradedEvents).toBe(5);
    // Degraded, ingest goes to the fallback at once: nothing to wait for.
    engine.ingest(ev(block(T0 + 6 * SEC, 'mallory')).event, T0 + 6 * SEC);
    await engine.shipped();
    await engine.shutdown();
  });
});
