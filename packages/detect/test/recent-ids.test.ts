import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '@llmsec/core';
import { RecentIds } from '../src/recent-ids.ts';

/**
 * RecentIds against the Set it replaced (3eef2f8's: a Set of the ids and a ring of them, the
 * oldest deleted from the Set when its slot is reused): the same answer for every add, and the
 * same size, after any sequence. Small capacities make small tables (4 to 64 positions), where
 * probe chains wrap around the end and backward-shift deletion moves entries across it.
 */
class SetReference {
  private readonly set = new Set<string>();
  private readonly ring: string[];
  private next = 0;
  constructor(capacity: number) {
    this.ring = new Array<string>(capacity).fill('');
  }
  add(id: string): boolean {
    if (this.set.has(id)) return false;
    const old = this.ring[this.next]!;
    if (old !== '') this.set.delete(old);
    this.ring[this.next] = id;
    this.next = this.next + 1 === this.ring.length ? 0 : this.next + 1;
    this.set.add(id);
    return true;
  }
  get size(): number {
    return this.set.size;
  }
}

function compare(capacity: number, ids: string[]): void {
  const recent = new RecentIds(capacity);
  const reference = new SetReference(capacity);
  ids.forEach((id, k) => {
    const want = reference.add(id);
    if (recent.add(id) !== want) throw new Error(`add #${k} (${JSON.stringify(id)}): want ${want}`);
    if (recent.size !== reference.size) throw new Error(`size after add #${k}: want ${reference.size}`);
  });
}

describe('RecentIds', () => {
  it('answers as the Set of the last `capacity` distinct ids, any capacity and sequence', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }),
        // Ids from a small pool: repeats inside and just outside the window are common.
        fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 300 }),
        (capacity, picks) =>
          compare(
            capacity,
            picks.map((n) => `id-${n}`),
          ),
      ),
      { numRuns: 2000 },
    );
  });

  it('answers as the Set with 10,000 ids and repeats from near and far back', () => {
    const random = seededRandom(13);
    const ids: string[] = [];
    for (let k = 0; k < 200_000; k++) {
      const back = random() < 0.2 ? Math.floor(random() * 20_000) : 0;
      // JSON.parse gives fresh strings, as the decoders do (not internalized literals).
      ids.push(JSON.parse(`"EVT-${String(Math.max(0, k - back)).padStart(12, '0')}"`) as string);
    }
    compare(10_000, ids);
  });

  it('compares ids by their text: the same id as a new string is a repeat, a prefix is not', () => {
    const recent = new RecentIds(4);
    expect(recent.add('abc')).toBe(true);
    expect(recent.add(['a', 'b', 'c'].join(''))).toBe(false);
    expect(recent.add('ab')).toBe(true);
    expect(recent.add('')).toBe(true);
    expect(recent.add('')).toBe(false);
    expect(recent.size).toBe(3);
  });

  it('spreads ids a direct caller gives as numbers, and keeps Set equality for them', () => {
    // Decoders give strings; a JavaScript caller of ingestOnce may not. Hashed to one value,
    // 1,000 numbers made one probe cluster of 1,000 positions (each add quadratic overall).
    const recent = new RecentIds(1_000);
    for (let k = 0; k < 2_000; k++) recent.add(k as unknown as string);
    const table = (recent as unknown as { table: Int32Array }).table;
    let longest = 0;
    let run = 0;
    for (const slot of [...table, ...table]) {
      run = slot === 0 ? 0 : run + 1;
      longest = Math.max(longest, run);
    }
    expect(longest).toBeLessThan(200);
    const same = new RecentIds(8);
    const ids = [1, '1', 0, -0, NaN, NaN, 1n, true, 'true'] as unknown as string[];
    expect(ids.map((id) => same.add(id))).toEqual([true, true, true, false, true, false, true, true, true]);
  });

  it('rejects a capacity below 1', () => {
    expect(() => new RecentIds(0)).toThrow(/capacity must be at least 1/);
  });
});
