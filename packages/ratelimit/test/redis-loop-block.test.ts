// A host whose event loop is blocked past the command timeout is not a slow store: Redis
// answered in time, so the call must not count as a store failure (failing closed, a failure
// refuses with `store_unavailable` and skips Redis for the retry interval).
// - Blocked after the command went out, while the reply waits in the socket (a synchronous
//   tokenizer load, a long GC, a CPU-bound request): Node runs expired timers before it reads
//   sockets; the timeout now waits for that read (timeout.ts, setImmediate). Before: failed.
// - Blocked by the caller after acquire() returned and before it awaits (a synchronous parse
//   between the two): the command goes out on the next tick (the coalescer's flush), so the
//   timeout counts from there. Armed at the call, it was spent before Redis was asked.
import { describe, expect, it } from 'vitest';
import { METRIC_RATELIMIT_STORE_ERRORS } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { RateLimiter } from '../src/limiter.ts';
import { RedisStore } from '../src/redis-store.ts';
import type { LimiterStore } from '../src/store.ts';
import { recordingMeter } from './support.ts';

const db = useRedis();

const COMMAND_TIMEOUT_MS = 50;
const TIERS = { free: { requestsPerMinute: 1_000, tokensPerMinute: 1_000_000, concurrent: 10 } };

/** Holds the thread for `ms`, as a synchronous load, a parse or a long GC pause does. */
function blockLoop(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy: no I/O is read meanwhile
  }
}

/**
 * Wraps `method` of `store` so that, once the call has gone out (the coalescer writes its batch
 * on the next tick, synchronously to the socket), the loop is blocked for `ms`: Redis answers
 * during the block, and the reply sits unread until it ends.
 */
function blockAfterSending(store: LimiterStore, method: 'acquire' | 'settle', ms: number): void {
  const original = (store[method] as (...a: unknown[]) => unknown).bind(store);
  (store as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
    const pending = original(...args);
    process.nextTick(() => blockLoop(ms));
    return pending;
  };
}

/**
 * A Redis store warmed by a patient limiter (script loaded on the server, connection up: a
 * loaded CI machine must not fail that part), and the limiter under test on it: 50 ms timeout,
 * failing closed, its store errors recorded.
 */
async function warmedLimiter(): Promise<{
  store: RedisStore;
  limiter: RateLimiter;
  storeErrors: () => number;
}> {
  const rec = recordingMeter();
  const store = new RedisStore({ client: db.redis });
  const patient = new RateLimiter({ store, tiers: TIERS, commandTimeoutMs: 10_000, failurePolicy: 'closed' });
  const warm = await patient.acquire({ subject: 'u-warm', estimatedTokens: 10 });
  expect(warm.allowed).toBe(true);
  await patient.settle(warm.lease!, { tokens: 10, costMicroUsd: 0 });
  const limiter = new RateLimiter({
    store,
    tiers: TIERS,
    failurePolicy: 'closed',
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    retryIntervalMs: 60_000,
    meter: rec.meter,
  });
  return { store, limiter, storeErrors: () => rec.count(METRIC_RATELIMIT_STORE_ERRORS) };
}

describe('a blocked event loop is not a slow store', () => {
  it('an acquire and a settle answered during a block longer than the timeout succeed, no store error', async () => {
    const BLOCK_MS = 1_000;
    const { store, limiter, storeErrors } = await warmedLimiter();
    blockAfterSending(store, 'acquire', BLOCK_MS);
    blockAfterSending(store, 'settle', BLOCK_MS);
    const t0 = Date.now();
    const r = await limiter.acquire({ subject: 'u-blocked', estimatedTokens: 10 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(BLOCK_MS - 5); // the block did happen
    expect(r.reason).toBeUndefined();
    expect(r.allowed).toBe(true);
    expect(r.degraded).not.toBe(true);
    expect(r.lease).toBeDefined(); // failing closed, only the store's answer gives a lease
    await limiter.settle(r.lease!, { tokens: 10, costMicroUsd: 0 });
    expect(storeErrors()).toBe(0);
  });

  it('a caller that blocks before awaiting acquire() and settle() gets the store answer, no store error', async () => {
    const BLOCK_MS = 500;
    const { limiter, storeErrors } = await warmedLimiter();
    const pending = limiter.acquire({ subject: 'u-busy', estimatedTokens: 10 });
    blockLoop(BLOCK_MS);
    const r = await pending;
    expect(r.reason).toBeUndefined();
    expect(r.allowed).toBe(true);
    expect(r.degraded).not.toBe(true);
    expect(r.lease).toBeDefined();
    const settling = limiter.settle(r.lease!, { tokens: 10, costMicroUsd: 0 });
    blockLoop(BLOCK_MS);
    await settling;
    expect(storeErrors()).toBe(0);
  });
});
