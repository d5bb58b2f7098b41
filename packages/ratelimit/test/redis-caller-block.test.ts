// A caller that holds the event loop after acquire() returned and before it awaits the result
// (a synchronous parse or load between the two): the command goes out on the next tick (the
// coalescer's flush), so the command timeout must count from there. Armed at the call, the
// timeout was spent before Redis was asked, and the limiter failed closed (`store_unavailable`)
// and counted a store error for a store that answered in well under a millisecond.
import { describe, expect, it } from 'vitest';
import { METRIC_RATELIMIT_STORE_ERRORS } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { RateLimiter } from '../src/limiter.ts';
import { RedisStore } from '../src/redis-store.ts';
import { recordingMeter } from './support.ts';

const db = useRedis();

const COMMAND_TIMEOUT_MS = 50;
const TIERS = { free: { requestsPerMinute: 1_000, tokensPerMinute: 1_000_000, concurrent: 10 } };
const BLOCK_MS = 500;

/** Holds the thread for `ms`, as a synchronous parse or load does. */
function blockLoop(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy: nothing else runs meanwhile
  }
}

describe('a caller that blocks before awaiting acquire()', () => {
  it('gets the store answer, no store error', async () => {
    const rec = recordingMeter();
    const store = new RedisStore({ client: db.redis });
    // Warm with a patient limiter (script loaded, connection up), so only the block is tested.
    const patient = new RateLimiter({
      store,
      tiers: TIERS,
      commandTimeoutMs: 10_000,
      failurePolicy: 'closed',
    });
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
    const pending = limiter.acquire({ subject: 'u-busy', estimatedTokens: 10 });
    blockLoop(BLOCK_MS);
    const r = await pending;
    expect(r.reason).toBeUndefined();
    expect(r.allowed).toBe(true);
    expect(r.degraded).not.toBe(true);
    expect(r.lease).toBeDefined(); // failing closed, only the store's answer gives a lease
    const settling = limiter.settle(r.lease!, { tokens: 10, costMicroUsd: 0 });
    blockLoop(BLOCK_MS);
    await settling;
    expect(rec.count(METRIC_RATELIMIT_STORE_ERRORS)).toBe(0);
  });
});
