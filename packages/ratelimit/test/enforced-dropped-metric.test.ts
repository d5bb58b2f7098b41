import { describe, expect, it } from 'vitest';
import { ManualClock, METRIC_RATELIMIT_ENFORCED_DROPPED } from '@llmsec/core';
import { RateLimiter } from '../src/limiter.ts';
import { MemoryStore } from '../src/memory-store.ts';
import { recordingMeter } from './support.ts';

/** Bans `bans` subjects, then floods the store so its enforced set (cap 2) overflows. */
async function overflow(lim: RateLimiter, prefix: string, bans: number): Promise<void> {
  for (let i = 0; i < bans; i++) await lim.ban(`${prefix}-banned-${i}`);
  for (let i = 0; i < 200; i++) lim.acquireSync({ subject: `${prefix}-x${i}`, estimatedTokens: 0 });
}

function limiter(meter: ReturnType<typeof recordingMeter>['meter'], store: MemoryStore, clock: ManualClock) {
  return new RateLimiter({
    store,
    clock,
    meter,
    tiers: { t: { requestsPerHour: 1_000 } },
    fallbackStore: new MemoryStore({ maxSubjects: 10, clock }),
  });
}

describe(`${METRIC_RATELIMIT_ENFORCED_DROPPED}`, () => {
  it('reports MemoryStore.enforcedDropped by store role, 0 before anything is dropped', async () => {
    const clock = new ManualClock(0);
    const rec = recordingMeter();
    const store = new MemoryStore({ maxSubjects: 10, maxEnforcedSubjects: 2, clock });
    const lim = limiter(rec.meter, store, clock);
    expect(rec.observe(METRIC_RATELIMIT_ENFORCED_DROPPED)).toEqual([
      { value: 0, attrs: { store: 'primary' } },
      { value: 0, attrs: { store: 'fallback' } },
    ]);
    await overflow(lim, 'a', 4);
    expect(store.enforcedDropped).toBe(2);
    expect(rec.observe(METRIC_RATELIMIT_ENFORCED_DROPPED)).toContainEqual({
      value: 2,
      attrs: { store: 'primary' },
    });
  });

  it('sums the stores of several limiters on one meter, a shared store once', async () => {
    const clock = new ManualClock(0);
    const rec = recordingMeter();
    const one = new MemoryStore({ maxSubjects: 10, maxEnforcedSubjects: 2, clock });
    const two = new MemoryStore({ maxSubjects: 10, maxEnforcedSubjects: 2, clock });
    const a = limiter(rec.meter, one, clock);
    limiter(rec.meter, one, clock); // the same store again: not counted twice
    const b = limiter(rec.meter, two, clock);
    await overflow(a, 'a', 3);
    await overflow(b, 'b', 5);
    expect(one.enforcedDropped + two.enforcedDropped).toBe(4);
    const primary = rec.observe(METRIC_RATELIMIT_ENFORCED_DROPPED).filter((o) => o.attrs.store === 'primary');
    expect(primary).toEqual([{ value: 4, attrs: { store: 'primary' } }]);
  });

  it('a Redis-like store without enforcedDropped reports no primary series', () => {
    const rec = recordingMeter();
    const clock = new ManualClock(0);
    const memory = new MemoryStore({ clock });
    // Only the shape matters here: a store without the count (RedisStore has none).
    const noCount = new Proxy(memory, {
      get: (target, key) => (key === 'enforcedDropped' ? undefined : Reflect.get(target, key, target)),
    });
    new RateLimiter({ store: noCount, clock, meter: rec.meter, tiers: { t: { requestsPerHour: 1 } } });
    expect(rec.observe(METRIC_RATELIMIT_ENFORCED_DROPPED)).toEqual([
      { value: 0, attrs: { store: 'fallback' } },
    ]);
  });
});
