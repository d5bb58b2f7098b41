import { describe, expect, it } from 'vitest';
import { createIdGenerator, defaultIdGenerator, seededRandom } from '@llmsec/core';

const EVENT_ID = /^EVT-[0-9a-f]{12}$/;

describe('seededRandom', () => {
  it('repeats for one seed, differs between seeds, stays in [0, 1)', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const seqA = Array.from({ length: 1000 }, () => a());
    const seqB = Array.from({ length: 1000 }, () => b());
    const seqC = Array.from({ length: 1000 }, () => c());
    expect(seqA).toEqual(seqB);
    expect(seqA).not.toEqual(seqC);
    for (const x of seqA) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
    // Uses the whole range, not a corner of it.
    expect(Math.min(...seqA)).toBeLessThan(0.05);
    expect(Math.max(...seqA)).toBeGreaterThan(0.95);
  });
});

describe('createIdGenerator', () => {
  it('seeded: event ids have the EVT- format and repeat exactly', () => {
    const g1 = createIdGenerator(seededRandom(7));
    const g2 = createIdGenerator(seededRandom(7));
    const ids1 = Array.from({ length: 100 }, () => g1.eventId());
    const ids2 = Array.from({ length: 100 }, () => g2.eventId());
    expect(ids1).toEqual(ids2);
    for (const id of ids1) expect(id).toMatch(EVENT_ID);
    expect(new Set(ids1).size).toBe(100);
    expect(createIdGenerator(seededRandom(8)).eventId()).not.toBe(ids1[0]);
  });

  it('seeded: hex(n) gives n lowercase hex characters', () => {
    const g = createIdGenerator(seededRandom(1));
    expect(g.hex(32)).toMatch(/^[0-9a-f]{32}$/);
    expect(g.hex(16)).toMatch(/^[0-9a-f]{16}$/);
    expect(g.hex(0)).toBe('');
  });

  it('crypto-backed: format, no repeats, and draws past the first batch', () => {
    const g = createIdGenerator();
    // 8,000 ids are 96,000 hex characters: past two refills of the 16 KiB (32,768-character)
    // pool. Unique across them, so each refill draws new bytes (a buffer filled once and re-hexed
    // would repeat its ids from the 2,731st on).
    const ids = Array.from({ length: 8000 }, () => g.eventId());
    for (const id of ids) expect(id).toMatch(EVENT_ID);
    expect(new Set(ids).size).toBe(ids.length);
    const big = g.hex(5000);
    expect(big).toMatch(/^[0-9a-f]{5000}$/);
    const huge = g.hex(70_000); // longer than a whole pool: its own bytes
    expect(huge).toMatch(/^[0-9a-f]{70000}$/);
    expect(g.eventId()).toMatch(EVENT_ID);
    expect(defaultIdGenerator.eventId()).toMatch(EVENT_ID);
    expect(defaultIdGenerator.hex(32)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('crypto-backed: every hex digit about equally often (no zeroed or stale pool)', () => {
    const g = createIdGenerator();
    const counts = new Map<string, number>();
    const n = 160_000; // several pools
    for (let i = 0; i < n / 16; i++) for (const c of g.hex(16)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(16);
    // Expected 10,000 each; a fair source stays within ±5% (~5 standard deviations).
    for (const count of counts.values()) expect(Math.abs(count - n / 16)).toBeLessThan(500);
  });
});
