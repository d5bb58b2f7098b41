import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../src/limiter.ts';
import { MemoryStore } from '../src/memory-store.ts';
import { CODE_BANNED, type AcquireOp, type AcquireOutcome, type LimiterStore } from '../src/store.ts';

/**
 * The limiter notes a store's banned / blocked refusals for its failure policy (0122a84). A
 * refusal whose subject index names no subject of the call (a store's bug, a garbled reply)
 * made that note throw, and a throw while deciding counts as a store failure: the banned
 * subject was decided by the fallback and admitted. It is refused as the store said.
 */
function banningStore(refusedSubject: number): LimiterStore {
  const inner = new MemoryStore();
  return {
    name: 'banning',
    synchronous: false,
    acquire: (op: AcquireOp): Promise<AcquireOutcome> =>
      Promise.resolve({
        code: CODE_BANNED,
        refusedSubject,
        refusedDim: -1,
        retryAfterMs: 60_000,
        nowMs: Date.now(),
        leaseExpiresAtMs: 0,
        subjects: op.subjects.map(() => ({ prevLevel: 4, level: 4, factor: 1, leases: 0, busyMs: [] })),
      }),
    settle: () => Promise.resolve(),
    violation: (s, w, p) => Promise.resolve(inner.violation(s, w, p)),
    snapshot: (s, p) => Promise.resolve(inner.snapshot(s, p)),
    reset: (s) => Promise.resolve(inner.reset(s)),
    lift: (s, p) => Promise.resolve(inner.lift(s, p)),
    ban: (s, p) => Promise.resolve(inner.ban(s, p)),
  };
}

describe('a banned refusal naming no subject of the call', () => {
  it.each([-1, 2, 7])('refusedSubject %i: refused as banned, not admitted by the fallback', async (index) => {
    const lim = new RateLimiter({
      store: banningStore(index),
      tiers: { t: { requestsPerHour: 100 } },
      warmTokenizer: false,
    });
    const r = await lim.acquire({
      subject: 'mallory',
      secondarySubject: 'ip:203.0.113.7',
      estimatedTokens: 1,
    });
    expect(r).toMatchObject({ allowed: false, reason: 'banned' });
    expect(r.degraded).toBeUndefined();
  });
});
