import { describe, expect, it, vi } from 'vitest';

// randomFillSync as node:crypto's, failing while `fail.now` is set (OpenSSL's generator can).
const fail = vi.hoisted(() => ({ now: false, fills: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof import('node:crypto')>();
  return {
    ...crypto,
    randomFillSync: ((buf: Buffer) => {
      if (fail.now) {
        buf.fill(0); // a write before the failure: must never be handed out
        throw new Error('entropy source failed');
      }
      fail.fills++;
      return crypto.randomFillSync(buf);
    }) as typeof crypto.randomFillSync,
  };
});

const { createIdGenerator } = await import('../src/ids.ts');

describe('createIdGenerator (crypto-backed) when a refill fails', () => {
  it('throws, hands out no stale or partial bytes, and refills on the next draw', () => {
    const g = createIdGenerator();
    const ids: string[] = [];
    ids.push(g.eventId());
    expect(fail.fills).toBe(1);
    // 2,730 ids of 12 characters use the 32,768-character pool but 8 characters.
    while (ids.length < 2730) ids.push(g.eventId());
    fail.now = true;
    expect(() => g.eventId()).toThrow('entropy source failed');
    expect(() => g.hex(16)).toThrow('entropy source failed');
    fail.now = false;
    for (let i = 0; i < 3000; i++) ids.push(g.eventId());
    expect(fail.fills).toBe(3);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.filter((id) => id.includes('00000000'))).toEqual([]);
    // The first id after the failure starts a fresh pool, not the 8 characters left of the old one.
    expect(ids[2730]).not.toBe(ids[0]);
  });
});
