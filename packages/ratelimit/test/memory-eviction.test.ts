import { describe, expect, it } from 'vitest';
import { ManualClock } from '@llmsec/core';
import { RateLimiter } from '../src/limiter.ts';
import { MemoryStore } from '../src/memory-store.ts';

const FLOOD = 100_000;

function limiterOn(store: MemoryStore, clock: ManualClock): RateLimiter {
  return new RateLimiter({
    store,
    clock,
    tiers: { t: { requestsPerHour: 1_000 } },
    enforcement: { warningAt: 2, throttledAt: 5, blockedAt: 10, bannedAt: 1_000, blockMs: 3_600_000 },
  });
}

describe('MemoryStore eviction keeps enforcement', () => {
  it(`a banned and a blocked subject stay so through ${FLOOD.toLocaleString('en')} invented subjects`, async () => {
    const clock = new ManualClock(1_000_000);
    const store = new MemoryStore({ maxSubjects: 1_000, clock });
    const lim = limiterOn(store, clock);
    await lim.acquire({ subject: 'regular', estimatedTokens: 0 });
    expect(await lim.ban('mallory')).toBe('normal');
    expect(await lim.recordViolation('trudy', 12)).toBe('blocked');
    for (let i = 0; i < FLOOD; i++) {
      const r = lim.acquireSync({ subject: `invented-${i}`, estimatedTokens: 0 });
      if (!r.allowed) throw new Error(`invented subject ${i} refused: ${r.reason}`);
      if (i % 1_000 === 0) clock.advance(1);
    }
    // Bounded: the LRU at maxSubjects, the enforced set at its own cap.
    expect(store.size).toBeLessThanOrEqual(1_000 + 100);
    expect(store.enforcedDropped).toBe(0);
    // Eviction still works for everyone else: an unenforced subject idle through the flood is gone.
    expect((await lim.status('regular')).dimensions[0]!.current).toBe(0);
    expect(await lim.acquire({ subject: 'mallory', estimatedTokens: 0 })).toMatchObject({
      allowed: false,
      reason: 'banned',
    });
    expect(await lim.acquire({ subject: 'trudy', estimatedTokens: 0 })).toMatchObject({
      allowed: false,
      reason: 'blocked',
    });
    expect((await lim.status('mallory')).banned).toBe(true);
    // Lifting works on a record that was kept aside.
    expect(await lim.lift('trudy')).toBe('blocked');
    expect((await lim.acquire({ subject: 'trudy', estimatedTokens: 0 })).allowed).toBe(true);
  });

  it('a ban kept aside survives a second flood after it was seen again', async () => {
    const clock = new ManualClock(0);
    const store = new MemoryStore({ maxSubjects: 100, clock });
    const lim = limiterOn(store, clock);
    await lim.ban('mallory');
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 1_000; i++) lim.acquireSync({ subject: `r${round}-${i}`, estimatedTokens: 0 });
      expect(lim.acquireSync({ subject: 'mallory', estimatedTokens: 0 }).reason).toBe('banned');
    }
    expect(store.size).toBeLessThanOrEqual(110);
  });

  it('past maxEnforcedSubjects, blocked subjects are dropped before banned ones, and counted', async () => {
    const clock = new ManualClock(0);
    const store = new MemoryStore({ maxSubjects: 10, maxEnforcedSubjects: 2, clock });
    const lim = limiterOn(store, clock);
    await lim.ban('b1');
    await lim.recordViolation('blocked', 12);
    await lim.ban('b2');
    await lim.ban('b3');
    for (let i = 0; i < 1_000; i++) lim.acquireSync({ subject: `x${i}`, estimatedTokens: 0 });
    expect(store.size).toBeLessThanOrEqual(12);
    expect(store.enforcedDropped).toBe(2);
    const reasons = ['b1', 'blocked', 'b2', 'b3'].map(
      (s) => lim.acquireSync({ subject: s, estimatedTokens: 0 }).reason ?? 'allowed',
    );
    // The set held two; the blocked subject went first, then the oldest ban.
    expect(reasons).toEqual(['allowed', 'allowed', 'banned', 'banned']);
  });

  it('bans older than 32 blocks are not dropped for throwaway blocks that came after them', async () => {
    // Refusals alone block a subject; an attacker with many addresses or accounts fills the
    // enforced set with blocks. The overflow looked for a block among the 32 oldest entries only,
    // and 32 bans kept aside longer (users banned and gone quiet: the usual case) made it drop the
    // oldest ban, 100 younger blocks notwithstanding.
    const clock = new ManualClock(0);
    const store = new MemoryStore({ maxSubjects: 10, maxEnforcedSubjects: 140, clock });
    const lim = limiterOn(store, clock);
    for (let b = 0; b < 40; b++) await lim.ban(`ban${b}`);
    for (let i = 0; i < 20; i++) lim.acquireSync({ subject: `x${i}`, estimatedTokens: 0 });
    for (let k = 0; k < 300; k++) {
      await lim.recordViolation(`throwaway${k}`, 12);
      lim.acquireSync({ subject: `y${k}`, estimatedTokens: 0 });
    }
    for (let i = 0; i < 20; i++) lim.acquireSync({ subject: `z${i}`, estimatedTokens: 0 });
    expect(store.size).toBeLessThanOrEqual(150);
    expect(store.enforcedDropped).toBeGreaterThan(0);
    const admitted = [];
    for (let b = 0; b < 40; b++)
      if (lim.acquireSync({ subject: `ban${b}`, estimatedTokens: 0 }).reason !== 'banned')
        admitted.push(`ban${b}`);
    expect(admitted).toEqual([]);
    // The newest block is kept; the oldest went.
    expect(lim.acquireSync({ subject: 'throwaway299', estimatedTokens: 0 }).reason).toBe('blocked');
    expect(lim.acquireSync({ subject: 'throwaway0', estimatedTokens: 0 }).reason).toBeUndefined();
  });

  it('full of bans, a new block is dropped, not a ban', async () => {
    const clock = new ManualClock(0);
    const store = new MemoryStore({ maxSubjects: 10, maxEnforcedSubjects: 2, clock });
    const lim = limiterOn(store, clock);
    await lim.ban('b1');
    await lim.ban('b2');
    await lim.recordViolation('blocked', 12);
    for (let i = 0; i < 1_000; i++) lim.acquireSync({ subject: `x${i}`, estimatedTokens: 0 });
    expect(store.enforcedDropped).toBe(1);
    const reasons = ['b1', 'b2', 'blocked'].map(
      (s) => lim.acquireSync({ subject: s, estimatedTokens: 0 }).reason ?? 'allowed',
    );
    expect(reasons).toEqual(['banned', 'banned', 'allowed']);
  });

  it('rejects an invalid maxEnforcedSubjects', () => {
    expect(() => new MemoryStore({ maxEnforcedSubjects: 0 })).toThrow(/maxEnforcedSubjects/);
  });
});
