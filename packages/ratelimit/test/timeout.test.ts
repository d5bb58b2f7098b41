import { describe, expect, it, vi } from 'vitest';
import type { EnforcementParams } from '../src/enforcement.ts';
import { RateLimiter } from '../src/limiter.ts';
import { MemoryStore } from '../src/memory-store.ts';
import type { AcquireOp, AcquireOutcome, LimiterStore, SettleOp } from '../src/store.ts';
import { mapWithTimeout, StoreTimeoutError } from '../src/timeout.ts';

const later = <T>(ms: number, value: T): Promise<T> => new Promise((r) => setTimeout(() => r(value), ms));

describe('mapWithTimeout', () => {
  it('maps a value that arrives in time, and only once', async () => {
    const late: number[] = [];
    const r = await mapWithTimeout(
      later(1, 2),
      1_000,
      (v) => v * 10,
      () => -1,
      (v) => late.push(v),
    );
    expect(r).toBe(20);
    expect(late).toEqual([]);
  });

  it('on the timeout: fail(StoreTimeoutError) at once, the value arriving later goes to late, never to ok', async () => {
    const seen: string[] = [];
    const r = await mapWithTimeout(
      later(60, 7),
      5,
      (v) => (seen.push(`ok ${v}`), 'ok'),
      (err) => (seen.push(`fail ${err.name}`), 'failed'),
      (v) => seen.push(`late ${v}`),
    );
    expect(r).toBe('failed');
    await later(100, 0);
    expect(seen).toEqual(['fail StoreTimeoutError', 'late 7']);
  });

  it('a rejection, a non-Error rejection and a throw of ok all go to fail as Errors', async () => {
    const boom = new Error('boom');
    const asError = (e: Error): Error | string => e;
    expect(await mapWithTimeout(Promise.reject(boom), 1_000, () => 'ok', asError)).toBe(boom);
    const wrapped = await mapWithTimeout(
      Promise.reject('text'), // a store that rejects with a non-Error
      1_000,
      () => 'ok',
      asError,
    );
    expect(wrapped).toBeInstanceOf(Error);
    expect((wrapped as Error).message).toBe('text');
    const thrown = await mapWithTimeout(
      Promise.resolve(1),
      1_000,
      () => {
        throw boom;
      },
      (e) => e,
    );
    expect(thrown).toBe(boom);
  });

  it('a throw of fail rejects (no promise left pending)', async () => {
    await expect(
      mapWithTimeout(
        Promise.reject(new Error('store')),
        1_000,
        () => 1,
        () => {
          throw new Error('fail threw');
        },
      ),
    ).rejects.toThrow('fail threw');
    await expect(
      mapWithTimeout(
        later(50, 1),
        1,
        () => 1,
        (e) => {
          throw e;
        },
      ),
    ).rejects.toBeInstanceOf(StoreTimeoutError);
  });
});

/** A MemoryStore answering acquire after `delayMs`, recording every settle it gets. */
class SlowStore implements LimiterStore {
  readonly name = 'slow';
  readonly synchronous = false;
  readonly inner = new MemoryStore();
  readonly settles: SettleOp[] = [];
  /** Acquires answered so far. */
  answered = 0;
  private readonly delayMs: number;
  constructor(delayMs: number) {
    this.delayMs = delayMs;
  }
  acquire(op: AcquireOp): Promise<AcquireOutcome> {
    return later(this.delayMs, undefined).then(() => {
      this.answered++;
      return this.inner.acquire(op);
    });
  }
  settle(op: SettleOp): void {
    this.settles.push(op);
    this.inner.settle(op);
  }
  violation(subject: string, weight: number, p: EnforcementParams) {
    return this.inner.violation(subject, weight, p);
  }
  snapshot(subject: string, p: EnforcementParams) {
    return this.inner.snapshot(subject, p);
  }
  reset(subject: string): void {
    this.inner.reset(subject);
  }
  lift(subject: string, p: EnforcementParams): number {
    return this.inner.lift(subject, p);
  }
  ban(subject: string, p: EnforcementParams): number {
    return this.inner.ban(subject, p);
  }
}

describe('RateLimiter on a store slower than commandTimeoutMs', () => {
  it('decides by the failure policy in time and gives back the reservation that arrives late', async () => {
    const store = new SlowStore(500);
    const lim = new RateLimiter({
      store,
      tiers: { t: { requestsPerHour: 5, tokensPerHour: 1_000 } },
      commandTimeoutMs: 10,
      failurePolicy: 'closed',
    });
    const r = await lim.acquire({ subject: 'late', estimatedTokens: 100 });
    // Decided on the timeout, before the store answered (an order, not a time: CI is loaded).
    expect(store.answered).toBe(0);
    expect(r).toMatchObject({ allowed: false, reason: 'store_unavailable', degraded: true });
    await vi.waitFor(() => expect(store.settles).toHaveLength(1), { timeout: 5_000 });
    // The late reservation is refunded: one request and its 100 tokens, and nothing stays charged.
    expect(store.settles).toHaveLength(1);
    expect(store.settles[0]).toMatchObject({ requests: -1, tokens: -100 });
    const snap = store.inner.snapshot('late', lim['o'].enforcement);
    expect(snap.busyMs.every((b) => b === 0)).toBe(true);
  });
});
