import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { defaultRules } from '../src/index.ts';
import { block, ev, T0, SEC } from './helpers.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';

/**
 * Redis killed mid-stream: the engine goes local (degraded) within the command timeout, keeps
 * detecting, raises no unhandled rejection, and returns to shared mode once Redis is back.
 */

let server: RedisHandle;
let redis: Redis;
const rejections: unknown[] = [];
const onRejection = (err: unknown): void => void rejections.push(err);

beforeAll(async () => {
  process.on('unhandledRejection', onRejection);
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
  process.off('unhandledRejection', onRejection);
  redis?.disconnect();
  await server?.stop();
});

async function until(cond: () => boolean, ms: number): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}

describe('RedisDetectionState: Redis down and back', () => {
  it('degrades within the command timeout, keeps detecting locally, and returns to shared mode', async () => {
    const { engine, alerts } = redisEngine(redis, defaultRules(), 0, freshRuleset('down'), {
      commandTimeoutMs: 250,
      probeIntervalMs: 100,
    });
    // Shared: a few blocks reach Redis.
    for (let i = 0; i < 3; i++) engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
    await engine.forceFlush();
    expect(engine.stats.state?.mode).toBe('shared');
    expect(engine.stats.processed).toBe(3);

    await server.kill();
    const killedAt = Date.now();
    for (let i = 3; i < 13; i++) engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
    await until(() => engine.stats.state?.mode === 'degraded', 2_000);
    // The command timeout (250 ms) bounds the switch, plus scheduling slack on a loaded machine.
    expect(Date.now() - killedAt).toBeLessThan(1_500);
    await engine.forceFlush();
    const st = engine.stats;
    expect(st.state?.degradedEpisodes).toBe(1);
    expect(st.state?.degradedEvents).toBe(10);
    // Detection went on locally: ten blocks in ten seconds fire the rapid-blocks rule.
    expect(alerts.map((a) => `${a.rule}:${a.status}`)).toContain('rapid_guardrail_blocks:firing');

    server = await startRedis({ port: server.port });
    await until(() => engine.stats.state?.mode === 'shared', 5_000);
    for (let i = 13; i < 15; i++) engine.ingest(ev(block(T0 + i * SEC, 'trent')).event, T0 + i * SEC);
    await engine.forceFlush();
    expect(engine.stats.state?.mode).toBe('shared');
    expect(engine.stats.state?.degradedEvents).toBe(10);
    expect(await redis.keys('llmsec:det:*')).not.toHaveLength(0);
    await engine.shutdown();
    expect(rejections).toEqual([]);
  });

  it('events queued before an advanceTo and handed to the fallback when Redis fails are not late there', async () => {
    // Its own connection, closed before anything is shipped: the first flush fails.
    const conn = new Redis(server.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
    });
    conn.on('error', () => {});
    await conn.connect();
    const { engine, alerts } = redisEngine(conn, defaultRules(), 5 * SEC, freshRuleset('late'), {
      probeIntervalMs: 60_000,
      shutdownGraceMs: 0,
    });
    conn.disconnect();
    for (let i = 0; i < 10; i++) engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
    // Declared before the flush that fails: the fallback must not move past the queued events first.
    engine.advanceTo(T0 + 14 * SEC);
    await engine.forceFlush();
    expect(engine.stats.state?.mode).toBe('degraded');
    expect(engine.stats.droppedLate).toBe(0);
    expect(alerts.map((a) => `${a.rule}:${a.status}`)).toEqual(['rapid_guardrail_blocks:firing']);
    await engine.shutdown();
  });
});
