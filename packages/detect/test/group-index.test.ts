import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GroupIndex, seededKeyHash } from '../src/group-index.ts';
import { GroupTable } from '../src/group-table.ts';

/** A fresh copy of `s` (another string object of the same text, as decoded input brings). */
const fresh = (s: string): string => Buffer.from(s, 'utf16le').toString('utf16le');

/** An index over `keys` (row -> key, as GroupTable keeps them) with the given hash. */
function indexOf(hash: (key: string) => number): { index: GroupIndex; keys: string[] } {
  const keys: string[] = [];
  return { index: new GroupIndex(keys, () => hash), keys };
}

describe('GroupIndex', () => {
  it('compares the key text on a hash match: keys of one hash never share a row', () => {
    // Every key has the same hash: an invented id aimed at a victim's must still get its own row.
    const { index, keys } = indexOf(() => 7);
    for (const key of ['alice', 'mallory', 'bob']) {
      keys.push(key);
      index.insert(7, keys.length - 1);
    }
    expect(index.find(fresh('alice'), 7)).toBe(0);
    expect(index.find(fresh('mallory'), 7)).toBe(1);
    expect(index.find(fresh('bob'), 7)).toBe(2);
    expect(index.find('alicf', 7)).toBe(-1);
    expect(index.find('', 7)).toBe(-1);
  });

  it('agrees with a Map under any inserts and removes, collisions forced, runs wrapping the end', () => {
    // Hashes from a handful of values, some near the top of the slot range: long runs that
    // wrap around, and removes in their middle (the backward shift's cases).
    const hashes = [0, 1, 2, 15, 14, 31, 63, -1, 0x7fffffff];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 })), { maxLength: 400 }),
        (ops) => {
          const hashOf = (key: string): number => hashes[Number(key.slice(1)) % hashes.length]!;
          const { index, keys } = indexOf(hashOf);
          const model = new Map<string, number>();
          const freeRows: number[] = [];
          for (const [add, k] of ops) {
            const key = `k${k}`;
            if (add && !model.has(key)) {
              const row = freeRows.pop() ?? keys.length;
              keys[row] = key;
              index.insert(hashOf(key), row);
              model.set(key, row);
            } else if (!add && model.has(key)) {
              const row = model.get(key)!;
              index.remove(hashOf(key), row);
              model.delete(key);
              keys[row] = '';
              freeRows.push(row);
            }
            expect(index.size).toBe(model.size);
          }
          for (let k = 0; k <= 40; k++) {
            const key = `k${k}`;
            expect(index.find(fresh(key), hashOf(key))).toBe(model.get(key) ?? -1);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('leaves no tombstone: a run churned by removes stays as long as the keys it holds', () => {
    // One run of colliding keys, churned 10,000 times. The keys' reads are counted: a lookup of
    // an absent key of that hash compares the text of every entry in the run, so it reads 4
    // keys here, not the 10,000 a run of leftovers would make it pass.
    let reads = 0;
    const rowKeys: string[] = [];
    const keys = new Proxy(rowKeys, {
      get(target, p, receiver) {
        if (typeof p === 'string' && /^\d+$/.test(p)) reads++;
        return Reflect.get(target, p, receiver) as unknown;
      },
    });
    const index = new GroupIndex(keys, () => () => 3);
    for (let i = 0; i < 10_000; i++) {
      const row = i % 4;
      if (i >= 4) index.remove(3, row);
      rowKeys[row] = `churn-${i}`;
      index.insert(3, row);
    }
    expect(index.size).toBe(4);
    for (let row = 0; row < 4; row++) expect(index.find(fresh(rowKeys[row]!), 3)).toBe(row);
    reads = 0;
    expect(index.find('absent', 3)).toBe(-1);
    expect(reads).toBe(4);
  });

  it('hashes the whole text of a long key: keys that differ only far in still spread', () => {
    const hash = seededKeyHash(12345);
    const prefix = 'x'.repeat(100_000);
    const seen = new Set<number>();
    for (let i = 0; i < 64; i++) seen.add(hash(`${prefix}${i}`) & 1023);
    // 64 keys in 1,024 slots: all in one slot would be a prefix-only hash.
    expect(seen.size).toBeGreaterThan(40);
    // The same text hashes the same, whichever string object holds it.
    expect(hash(fresh(`${prefix}7`))).toBe(hash(`${prefix}7`));
    // The seed changes the hash.
    expect(seededKeyHash(54321)(`${prefix}7`)).not.toBe(hash(`${prefix}7`));
  });

  it('finds long keys by their full text', () => {
    const { index, keys } = indexOf(seededKeyHash(99));
    const long = 'y'.repeat(50_000);
    for (const key of [`${long}a`, `${long}b`, `a${long}`]) {
      keys.push(key);
      index.insert(index.hash(key), keys.length - 1);
    }
    expect(index.find(fresh(`${long}b`), index.hash(`${long}b`))).toBe(1);
    expect(index.find(`${long}c`, index.hash(`${long}c`))).toBe(-1);
    expect(index.find(fresh(`a${long}`), index.hash(`a${long}`))).toBe(2);
  });

  it('grows past its first slots and keeps every row (100,000 keys)', () => {
    const { index, keys } = indexOf(seededKeyHash(1));
    for (let i = 0; i < 100_000; i++) {
      keys.push(`user-${i}`);
      index.insert(index.hash(keys[i]!), i);
    }
    for (let i = 0; i < 100_000; i += 997)
      expect(index.find(fresh(`user-${i}`), index.hash(`user-${i}`))).toBe(i);
    expect(index.find('user-100000', index.hash('user-100000'))).toBe(-1);
  });
});

describe('GroupTable with colliding hashes', () => {
  it('gives two keys of one hash two groups, and evicts and re-adds them by their text', () => {
    const table = new GroupTable('user_id', 3, 1, [], () => () => 42);
    const alice = table.touch('alice');
    table.stateRow(alice)[0] = 'alice state';
    // Alice's events weigh her group up: it outlives laps of one-shot keys (GroupTable's GCLOCK).
    for (let i = 0; i < 40; i++) table.touch(fresh('alice'));
    const mallory = table.touch('mallory');
    expect(mallory).not.toBe(alice);
    expect(table.stateRow(mallory)[0]).toBeUndefined();
    expect(table.touch(fresh('alice'))).toBe(alice);
    expect(table.rowOf(fresh('mallory'))).toBe(mallory);
    // A flood of keys of the same hash: bounded, alice (touched) outlives the one-shot keys.
    for (let i = 0; i < 50; i++) table.touch(`flood-${i}`);
    expect(table.size).toBe(3);
    expect(table.rowOf(fresh('alice'))).toBe(alice);
    expect(table.stateRow(alice)[0]).toBe('alice state');
    expect(table.rowOf('mallory')).toBe(-1);
  });
});
