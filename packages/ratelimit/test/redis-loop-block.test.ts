// A host whose event loop is blocked past the command timeout while Redis's reply is already
// waiting in the socket (a synchronous tokenizer load, a long GC, a CPU-bound request): the
// reply came in time, so the call must not count as a store failure. Node runs expired timers
// before it reads sockets; the timeout now waits for that read (timeout.ts afterTimeout).
// Before, the acquire below failed closed (`store_unavailable`) and the settle counted an error.
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
const BLOCK_MS = 1_000;

/** Holds the thread for `ms`, as a synchronous load or a long GC pause does. */
function blockLoop(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy: no I/O is read meanwhile
  }
}

/**
 * Wraps `method` of `store` so that, once the call has gone out (the coalescer writes its batch
 * on the next tick, synchronously to the socket), the loop is blocked for BLOCK_MS: Redis
 * answers during the block, and the reply sits unread until it ends.
 */
function blockAfterSending(store: LimiterStore, method: 'acquire' | 'settle'): void {
  const original = (store[method] as (...a: unknown[]) => unknown).bind(store);
  (store as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
    const pending = original(...args);
    process.nextTick(() => blockLoop(BLOCK_MS));
    return pending;
  };
}

describe('a blocked event loop is not a slow store', () => {
  it('an acquire and a settle answered during a block longer than the timeout succeed, no store error', async () => {
    const rec = recordingMeter();
    const store = new RedisStore({ client: db.redis });
    const limiter = new RateLimiter({
      store,
      tiers: TIERS,
      failurePolicy: 'closed',
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
      retryIntervalMs: 60_000,
      meter: rec.meter,
    });

    // Warm, with a patient limiter on the same store (a loaded CI machine must not fail this
    // part): the script is loaded on the server (NOSCRIPT, then EVAL), the connection is up.
    const patient = new RateLimiter({
      store,
      tiers: TIERS,
      commandTimeoutMs: 10_000,
      failurePolicy: 'closed',
    });
    const warm = await patient.acquire({ subject: 'u-warm', estimatedTokens: 10 });
    expect(warm.allowed).toBe(true);
    await patient.settle(warm.lease!, { tokens: 10, costMicroUsd: 0 });

    blockAfterSending(store, 'acquire');
    blockAfterSending(store, 'settle');
    const t0 = Date.now();
    const r = await limiter.acquire({ subject: 'u-blocked', estimatedTokens: 10 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(BLOCK_MS - 5); // the block did happen
    expect(r.reason).toBeUndefined();
    expect(r.allowed).toBe(true);
    expect(r.degraded).not.toBe(true);
    expect(r.lease).toBeDefined(); // failing closed, only the store's answer gives a lease
    await limiter.settle(r.lease!, { tokens: 10, costMicroUsd: 0 });
    expect(rec.count(METRIC_RATELIMIT_STORE_ERRORS)).toBe(0);
  });
});
