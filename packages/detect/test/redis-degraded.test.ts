import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { defaultRules } from '../src/index.ts';
import { block, ev, T0, SEC } from './helpers.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';
import { until } from '../../../test/support/until.ts';

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

describe('RedisDetectionState: Redis down and back', () => {
  it('degrades within the command timeout, keeps detecting locally, and returns to shared mode', async () => {
    const { engine, alerts } = redisEngine(redis, defaultRules(), 0, freshRuleset('down'), {
      // Not 250 ms: once Redis is back, a round it answers late (redis-server starved of CPU on a
      // loaded host, which the watchdog does not discount) would count a second episode.
      commandTimeoutMs: 2_000,
      probeIntervalMs: 100,
    });
    // Shared: a few blocks reach Redis.
    for (let i = 0; i < 3; i++) engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
    await engine.forceFlush();
    expect(engine.stats.state?.mode).toBe('shared');
    expect(engine.stats.processed).toBe(3);

    await server.kill();
    for (let i = 3; i < 13; i++) engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
    // Nothing brings Redis back before the switch: without the command timeout (2 s of this
    // process's unblocked time; the watchdog discounts a stalled event loop) the engine would
    // wait for a Redis restarted only after the switch. So the bound tells a switch from a hang,
    // and is wide: a fixed 1.5 s of wall time also measured the host's load (2 cores at load
    // 20-28 on CI).
    await until(() => engine.stats.state?.mode === 'degraded', 30_000);
    await engine.forceFlush();
    const st = engine.stats;
    expect(st.state?.degradedEpisodes).toBe(1);
    expect(st.state?.degradedEvents).toBe(10);
    // Detection went on locally: ten blocks in ten seconds fire the rapid-blocks rule.
    expect(alerts.map((a) => `${a.rule}:${a.status}`)).toContain('rapid_guardrail_blocks:firing');

    server = await startRedis({ port: server.port });
    await until(() => engine.stats.state?.mode === 'shared', 30_000); // a restarted redis-server, on a loaded host
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

describe('RedisDetectionState: the fallback engine after a degraded episode', () => {
  it('events queued at flush() that go to the fallback when the final flush fails are not late there', async () => {
    const { engine, alerts } = redisEngine(redis, defaultRules(), 5 * SEC, freshRuleset('final'), {
      probeIntervalMs: 60_000,
      shutdownGraceMs: 0,
    });
    // Time declared with nothing queued: the fallback follows it to T0 + 14 s.
    engine.advanceTo(T0 + 14 * SEC);
    await engine.forceFlush();
    // Ten blocks from T0 + 10 s (not late: the newest time is T0 + 14 s), then the end of input,
    // and the round that ships them fails: they go to the fallback, which had been flushed.
    for (let i = 10; i < 20; i++) engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
    const client = redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const clock = client.llmsecDetClock!;
    client.llmsecDetClock = () => Promise.reject(new Error('cut off'));
    try {
      engine.flush();
      await until(() => engine.stats.state?.mode === 'degraded', 2_000);
      await engine.forceFlush();
    } finally {
      client.llmsecDetClock = clock;
    }
    expect(engine.stats.state?.degradedEvents).toBe(10);
    expect(engine.stats.droppedLate).toBe(0);
    expect(alerts.map((a) => `${a.rule}:${a.status}`)).toEqual(['rapid_guardrail_blocks:firing']);
    await engine.shutdown();
  });

  it('flush() with events queued flushes the fallback once the final round is shipped', async () => {
    const conn = new Redis(server.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
    });
    conn.on('error', () => {});
    await conn.connect();
    const { engine, alerts } = redisEngine(conn, defaultRules(), 5 * SEC, freshRuleset('final-ok'), {
      probeIntervalMs: 50,
      shutdownGraceMs: 0,
    });
    conn.disconnect();
    // Cut off: the fallback holds mallory's last blocks (lateness 5 s).
    for (let i = 0; i < 10; i++) engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
    await until(() => engine.stats.state?.mode === 'degraded', 2_000);
    // The disconnect has closed the socket (a loaded machine may not have yet: connect() then
    // throws "already connecting/connected").
    await until(() => conn.status === 'end', 2_000);
    await conn.connect();
    await until(() => engine.stats.state?.mode === 'shared', 30_000); // a restarted redis-server, on a loaded host
    // Shared again, one event queued, then the end of input.
    engine.ingest(ev(block(T0 + 10 * SEC, 'trent')).event, T0 + 10 * SEC);
    engine.flush();
    await engine.forceFlush();
    expect(alerts.map((a) => `${a.labels.user_id}:${a.rule}:${a.status}`)).toEqual([
      'mallory:rapid_guardrail_blocks:firing',
    ]);
    await engine.shutdown();
    conn.disconnect();
  });

  it('a round that succeeds moves the fallback no further than the events still queued allow', async () => {
    const { engine } = redisEngine(redis, defaultRules(), 5 * SEC, freshRuleset('partial'), {
      probeIntervalMs: 60_000,
      shutdownGraceMs: 0,
      batchSize: 5,
    });
    // The first round (5 events) reaches Redis, the second fails: its 5 events go to the fallback.
    const client = redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const clock = client.llmsecDetClock!;
    let calls = 0;
    client.llmsecDetClock = (...args: unknown[]) =>
      ++calls === 2 ? Promise.reject(new Error('cut off')) : clock.apply(redis, args);
    try {
      for (let i = 0; i < 10; i++) engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
      engine.advanceTo(T0 + 14 * SEC);
      await engine.forceFlush();
      await until(() => engine.stats.state?.mode === 'degraded', 2_000);
    } finally {
      client.llmsecDetClock = clock;
    }
    expect(engine.stats.state?.degradedEvents).toBe(5);
    // After the first round the fallback may reach T0 + 10 s (the oldest queued, T0 + 5 s, plus
    // the lateness), not T0 + 14 s, where T0 + 5..8 s would be late.
    expect(engine.stats.droppedLate).toBe(0);
    await engine.shutdown();
  });

  it('keeps moving with advanceTo while traffic keeps the flusher busy (events it held are processed)', async () => {
    const conn = new Redis(server.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
    });
    conn.on('error', () => {});
    await conn.connect();
    const { engine, alerts } = redisEngine(conn, defaultRules(), 5 * SEC, freshRuleset('busy'), {
      probeIntervalMs: 50,
      shutdownGraceMs: 0,
    });
    conn.disconnect();
    // Cut off: ten blocks go to the fallback, which holds the last ones (lateness 5 s) unprocessed.
    for (let i = 0; i < 10; i++) engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
    await until(() => engine.stats.state?.mode === 'degraded', 2_000);
    expect(alerts).toEqual([]);
    await until(() => conn.status === 'end', 2_000);
    await conn.connect();
    await until(() => engine.stats.state?.mode === 'shared', 30_000); // a restarted redis-server, on a loaded host

    // Live traffic back on Redis: one event (of another user) arrives during every flush round,
    // with a tick, so the queue is never empty when a round ends. The time passes mallory's
    // held events by round 6; the fallback must release them while the traffic goes on.
    const rounds = 30;
    let round = 0;
    let firedAtRound: number | undefined;
    const client = conn as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const clock = client.llmsecDetClock!.bind(conn);
    client.llmsecDetClock = (...args: unknown[]) => {
      if (firedAtRound === undefined && alerts.some((a) => a.labels.user_id === 'mallory'))
        firedAtRound = round;
      if (round < rounds) {
        round++;
        const t = T0 + (9 + round) * SEC;
        engine.ingest(ev(block(t, 'trent')).event, t);
        engine.advanceTo(t);
      }
      return clock(...args);
    };
    engine.advanceTo(T0 + 10 * SEC);
    await engine.forceFlush();
    expect(round).toBe(rounds);
    expect(engine.stats.droppedLate).toBe(0);
    expect(alerts.filter((a) => a.labels.user_id === 'mallory').map((a) => `${a.rule}:${a.status}`)).toEqual([
      'rapid_guardrail_blocks:firing',
    ]);
    // Released with the traffic going on (round 6 moves time past T0 + 14 s), not once it stopped.
    expect(firedAtRound).toBeLessThan(rounds);
    await engine.shutdown();
    conn.disconnect();
  });
});
