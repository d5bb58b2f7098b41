import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { DetectionEngine, type CodeRule } from '../src/index.ts';
import { blockBurst, ev, SEC, T0 } from './helpers.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';
import { until } from '../../../test/support/until.ts';

/**
 * Repeated event ids on a shared state where Redis does not decide them. `ingestOnce` drops
 * only exact copies there (copy-key.ts) and leaves repeats by id to the groups in Redis; the
 * in-memory engines beside the shared one (code rules, and the fallback while Redis is down)
 * must then drop a repeated id themselves, as one process in memory does. Here the span event
 * of a block carries its trace and the log record of the same event none (emitted without a
 * valid span context): not an exact copy.
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
  redis.on('error', () => {}); // the server is killed below
  await redis.connect();
});

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

const LATENESS = 60 * SEC;

const burst = blockBurst;

function blocks(): { event: ReturnType<typeof ev>['event']; t: number }[] {
  const span = ev({
    at: T0 + SEC,
    category: 'guardrail_block',
    user: 'mallory',
    id: 'm1',
    trace: 'a'.repeat(32),
  });
  const log = { event: { ...span.event }, t: span.t };
  delete log.event.trace_id;
  return [span, ev({ at: T0 + 2 * SEC, category: 'guardrail_block', user: 'mallory', id: 'm2' }), log];
}

function firing(alerts: Alert[]): string[] {
  return alerts.filter((a) => a.status === 'firing').map((a) => `${a.rule}:${a.labels.user_id}`);
}

/** A code rule: three blocks of a user (no window needed for the test). */
const codeBurst: CodeRule = {
  id: 'code_burst',
  title: 'Burst (code rule)',
  severity: 'alert',
  categories: ['guardrail_block'],
  window_ms: 600_000,
  condition: {
    createState: () => ({ n: 0 }),
    update: (s: { n: number }) => ++s.n >= 3,
    describe: (s: { n: number }) => `${s.n} blocks`,
  },
};

describe('repeated event ids where Redis does not decide them', () => {
  it('a code rule counts an id once, as one process in memory', async () => {
    const memoryAlerts: Alert[] = [];
    const memory = new DetectionEngine({
      rules: [codeBurst],
      allowedLatenessMs: LATENESS,
      onAlert: (a) => memoryAlerts.push(a),
    });
    for (const { event, t } of blocks()) memory.ingestOnce(event, t);
    memory.flush();
    expect(firing(memoryAlerts)).toEqual([]);

    const { engine, alerts } = redisEngine(redis, [codeBurst], LATENESS, freshRuleset('code-repeats'));
    for (const { event, t } of blocks()) engine.ingestOnce(event, t);
    engine.flush();
    await engine.forceFlush();
    expect(engine.stats.state?.mode).toBe('shared');
    expect(firing(alerts)).toEqual(firing(memoryAlerts));
    await engine.shutdown();
  }, 30_000);

  it('the fallback counts an id once, as one process in memory', async () => {
    const memoryAlerts: Alert[] = [];
    const memory = new DetectionEngine({
      rules: [burst],
      allowedLatenessMs: LATENESS,
      onAlert: (a) => memoryAlerts.push(a),
    });
    for (const { event, t } of blocks()) memory.ingestOnce(event, t);
    memory.flush();
    expect(firing(memoryAlerts)).toEqual([]);

    const { engine, alerts } = redisEngine(redis, [burst], LATENESS, freshRuleset('degraded-repeats'), {
      commandTimeoutMs: 250,
      probeIntervalMs: 60_000,
    });
    await server.kill();
    // An event of no rule, to find Redis gone.
    engine.ingest(ev({ at: T0, category: 'request_completed', user: 'warmup' }).event, T0);
    await until(() => engine.stats.state?.mode === 'degraded', 5_000);
    const taken = blocks().map(({ event, t }) => engine.ingestOnce(event, t));
    // Not an exact copy: the process takes all three; the fallback drops the repeated id.
    expect(taken).toEqual([true, true, true]);
    engine.flush();
    await engine.forceFlush();
    expect(engine.stats.state?.mode).toBe('degraded');
    // The three blocks went to the fallback (and the first event, when it was still queued).
    expect(engine.stats.state?.degradedEvents).toBeGreaterThanOrEqual(3);
    expect(firing(alerts)).toEqual(firing(memoryAlerts));
    await engine.shutdown();
  }, 30_000);
});
