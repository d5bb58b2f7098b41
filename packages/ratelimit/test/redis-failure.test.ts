import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { Redis } from 'ioredis';
import { METRIC_RATELIMIT_STORE_ERRORS } from '@llmsec/core';
import { waitUntil } from '../../../test/support/ports.ts';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { RateLimiter } from '../src/limiter.ts';
import { RedisStore } from '../src/redis-store.ts';
import type { AcquireResult } from '../src/types.ts';
import { errorLog, recordingMeter } from './support.ts';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
process.on('unhandledRejection', onUnhandled);
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

const { logger, errors: diagErrors } = errorLog();

let redis: RedisHandle | undefined;
let client: Redis | undefined;

beforeEach(() => {
  diag.setLogger(logger, DiagLogLevel.ERROR);
  diagErrors.length = 0;
  unhandled.length = 0;
});

afterEach(async () => {
  client?.disconnect();
  await redis?.stop();
  diag.disable();
});

/** Runs `loops` acquire loops until stopped, timing every call. */
function load(lim: RateLimiter, loops: number, subject: string) {
  const results: { r: AcquireResult; ms: number; at: number }[] = [];
  let running = true;
  const all = Promise.all(
    Array.from({ length: loops }, async () => {
      while (running) {
        const t0 = performance.now();
        const r = await lim.acquire({ subject, estimatedTokens: 10 });
        results.push({ r, ms: performance.now() - t0, at: Date.now() });
        await new Promise((res) => setTimeout(res, 5));
      }
    }),
  );
  return {
    results,
    stop: async () => {
      running = false;
      await all;
    },
  };
}

/** How long Redis stays down: a call that waited for it instead of failing took this long. */
const OUTAGE_MS = 8_000;
/**
 * The bound on any one call: the 150 ms command timeout plus room for a stalled host (a test
 * process stalled 1 s on a loaded 2-core machine broke the former 150 + 1,000 ms), well below
 * OUTAGE_MS so that a call that waited for Redis still fails it.
 */
const HANG_BOUND_MS = 150 + 4_000;

async function sleepUntil(at: number): Promise<void> {
  const ms = at - Date.now();
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}

describe('Redis killed mid-run', () => {
  it('fails open through the local fallback within the timeout, counts and reports the failure, recovers', async () => {
    redis = await startRedis();
    // Default ioredis options (offline queue on): commands would wait for a reconnect forever.
    client = new Redis(redis.url);
    const { meter, count } = recordingMeter();
    const lim = new RateLimiter({
      store: new RedisStore({ client }),
      tiers: { t: { requestsPerHour: 1_000_000 } },
      failurePolicy: 'open',
      commandTimeoutMs: 150,
      retryIntervalMs: 200,
      meter,
    });
    const subject = `open-${Date.now()}`;
    const run = load(lim, 8, subject);
    await waitUntil(() => run.results.length > 50, { what: 'healthy traffic' });
    const port = redis.port;
    // From the process's end on, not from the kill's sending: a reply Redis sent before it died
    // is read by then (a test process stalled with one unread must not count as an outage call).
    await redis.kill();
    const killedAt = Date.now();
    await waitUntil(() => run.results.filter((x) => x.at > killedAt + 500).length > 50, {
      what: 'traffic during the outage',
    });
    const during = run.results.filter((x) => x.at > killedAt + 500);
    expect(during.every((x) => x.r.allowed && x.r.degraded === true && x.r.lease?.fallback === true)).toBe(
      true,
    );
    // Redis stays down OUTAGE_MS, so a call that waited for it (the hang this test is about)
    // would take about that long, far above HANG_BOUND_MS (which a stalled host cannot reach).
    await sleepUntil(killedAt + OUTAGE_MS);
    redis = await startRedis({ port });
    const restartedAt = Date.now();
    await waitUntil(() => run.results.some((x) => x.at > restartedAt && x.r.degraded === undefined), {
      timeoutMs: 20_000,
      what: 'recovery',
    });
    await run.stop();
    // No request hung: every call resolved within the timeout plus scheduling slack on a busy
    // machine (HANG_BOUND_MS), where one waiting for Redis took the outage's OUTAGE_MS.
    const slowest = Math.max(...run.results.map((x) => x.ms));
    expect(slowest).toBeLessThan(HANG_BOUND_MS);
    expect(count(METRIC_RATELIMIT_STORE_ERRORS)).toBeGreaterThan(0);
    expect(diagErrors.filter((m) => m.includes('failure policy "open"')).length).toBeGreaterThanOrEqual(1);
    expect(unhandled).toEqual([]);
    // A call after the run is answered by Redis again. One past the 150 ms timeout on a loaded
    // host (a Redis paused 300 ms is enough) is degraded, as it should be, and so is the next for
    // retryIntervalMs: asked again until one is answered in time.
    await waitUntil(
      async () => (await lim.acquire({ subject, estimatedTokens: 10 })).degraded === undefined,
      {
        timeoutMs: 20_000,
        what: 'a call answered by Redis',
      },
    );
  });

  it('fails closed when configured: refuses with store_unavailable, no hang, no unhandled rejection', async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    // Without an offline queue, commands before the connection is ready fail (to the policy).
    await new Promise((r) => client!.once('ready', r));
    const lim = new RateLimiter({
      store: new RedisStore({ client }),
      tiers: { t: { requestsPerHour: 1_000_000, concurrent: 100 } },
      failurePolicy: 'closed',
      commandTimeoutMs: 150,
      retryIntervalMs: 200,
    });
    const subject = `closed-${Date.now()}`;
    // A lease taken before the outage, settled during it. A call past the 150 ms timeout on a
    // loaded host is refused (store_unavailable, the policy): asked again until one is admitted.
    let held: AcquireResult | undefined;
    await waitUntil(async () => (held = await lim.acquire({ subject, estimatedTokens: 10 })).allowed, {
      timeoutMs: 20_000,
      what: 'a lease admitted by Redis',
    });
    const run = load(lim, 8, subject);
    await waitUntil(() => run.results.length > 20, { what: 'healthy traffic' });
    await redis.kill();
    const killedAt = Date.now();
    await waitUntil(() => run.results.filter((x) => x.at > killedAt + 300).length > 30, {
      what: 'traffic during the outage',
    });
    await sleepUntil(killedAt + OUTAGE_MS); // as above: a call that waited would take this long
    await run.stop();
    const during = run.results.filter((x) => x.at > killedAt + 300);
    expect(
      during.every((x) => !x.r.allowed && x.r.reason === 'store_unavailable' && x.r.degraded === true),
    ).toBe(true);
    expect(Math.max(...run.results.map((x) => x.ms))).toBeLessThan(HANG_BOUND_MS);
    // Settling while the store is down resolves too.
    await expect(lim.settle(held!.lease!, { tokens: 5 })).resolves.toBeUndefined();
    await expect(lim.recordViolation(subject)).resolves.toBeUndefined();
    expect(unhandled).toEqual([]);
  });
});
