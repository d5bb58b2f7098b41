// The ratelimit benchmarks' guard against reporting the fallback store as Redis
// (bench/ratelimit/degraded.ts): every acquire the fallback decides and every store failure
// the limiter reports must be counted, and nothing when the store answers.
import { afterEach, describe, expect, it } from 'vitest';
import { diag } from '@opentelemetry/api';
import { MemoryStore } from '../src/memory-store.ts';
import { RateLimiter } from '../src/limiter.ts';
import type { AcquireOp } from '../src/store.ts';
import { countedFallback, takeDegraded, watchStoreFailures } from '../../../bench/ratelimit/degraded.ts';

class BrokenStore extends MemoryStore {
  override acquire(_op: AcquireOp): never {
    throw new Error('store down');
  }
}

const limiterOn = (store: MemoryStore): RateLimiter =>
  new RateLimiter({
    store,
    tiers: { t: { requestsPerMinute: 1_000, concurrent: 10 } },
    fallbackStore: countedFallback(new MemoryStore()),
  });

afterEach(() => {
  diag.disable();
  takeDegraded();
});

describe('bench degraded counter', () => {
  it('counts each acquire decided by the fallback store and the failure reported', async () => {
    watchStoreFailures();
    takeDegraded();
    const lim = limiterOn(new BrokenStore());
    for (let i = 0; i < 3; i++) {
      const r = await lim.acquire({ subject: 'u', estimatedTokens: 1 });
      expect(r.degraded).toBe(true);
      await lim.settle(r.lease!, { tokens: 1 });
    }
    // One failure report per outage (later acquires skip the store for retryIntervalMs).
    expect(takeDegraded()).toEqual({ decisions: 3, failures: 1 });
    expect(takeDegraded()).toEqual({ decisions: 0, failures: 0 });
  });

  it('counts nothing while the store answers', async () => {
    watchStoreFailures();
    takeDegraded();
    const lim = limiterOn(new MemoryStore());
    for (let i = 0; i < 3; i++) {
      const r = await lim.acquire({ subject: 'u', estimatedTokens: 1 });
      expect(r.degraded).toBeUndefined();
      await lim.settle(r.lease!, { tokens: 1 });
    }
    expect(takeDegraded()).toEqual({ decisions: 0, failures: 0 });
  });
});
