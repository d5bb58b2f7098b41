import { randomBytes } from 'node:crypto';

/** A hash of a group key's text to 32 bits (GroupIndex's own by default; the tests force collisions). */
export type KeyHash = (key: string) => number;

/**
 * A seeded 32-bit hash of the whole key text: per UTF-16 unit a multiply (the seed, random per
 * table, decides every step, so an attacker who cannot see it cannot aim keys at one slot),
 * then murmur3's finaliser so the low bits the table indexes by depend on every unit. Linear in
 * the key's length, whatever that is: no prefix cap, which keys sharing a long prefix would all
 * collide under (V8's own string hash stops reading at 16,383 characters).
 */
export function seededKeyHash(seed: number): KeyHash {
  return (key: string): number => {
    let h = seed ^ key.length;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x9e3779b1);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return h ^ (h >>> 16);
  };
}

/** Slots per entry at the least: the load factor stays at or below 1/2. */
const SPREAD = 2;

/**
 * A group table's index: group key -> row, open addressing over one Int32Array (two ints a
 * slot: row + 1, 0 for empty, and the key's hash), linear probing, deletion by backward shift.
 *
 * Why not a Map<string, number> (until issue 13's seventeenth round): real input brings a new
 * string per event (fresh-ids.ts), and a Map looks one up by hashing it and then walking a
 * bucket chain whose entries and stored key strings lie elsewhere in memory, one dependent cache
 * miss after another, inside a builtin call, so the read-ahead (group-prefetch.ts) could overlap
 * little of them. Here a lookup is split in steps the read-ahead runs for a whole batch at a time
 * (`hash`, `peek`, then `find`): hashing the key (its text is in cache, just decoded), then
 * loading its first slot, then comparing. With 100,000 keys, 16 lookups a batch, a fresh string
 * each (bench/detect/group-index.ts; a scratch copy of it at load 1.5-2): Map.get 356 ns a
 * lookup, these steps 130 ns (2.7x); ids of 36 characters 526 against 177 ns; 1,000 keys 48
 * against 40 ns (the bench at load 30: 744 against 222 ns, 61 against 47). The engine at
 * 100,000 users: docs/performance/detect.md.
 *
 * The key text is still compared on a hash match (`keys[row] === key`): two keys with one hash
 * (an invented id aimed at a victim's) must never share a group. Probe lengths are bounded by
 * the load factor (at most 1/2) and the random seed; a deleted entry leaves no tombstone (the
 * entries after it in its run shift back), so a table churned by evictions probes as a fresh one.
 * Memory: at most 4 slots (32 B) per entry just after growth, 2 (16 B) at the least, against
 * the Map's ~28-56 B (3 words an entry plus half a bucket word, its capacity a power of two).
 */
export class GroupIndex {
  /** The table's key per row (GroupTable.keys), read to compare the text on a hash match. */
  private readonly keys: readonly string[];
  readonly hash: KeyHash;
  /** Per slot s: [2s] row + 1 (0: empty), [2s + 1] the key's hash. */
  private slots = new Int32Array(2 * 16);
  private mask = 15;
  size = 0;

  constructor(keys: readonly string[], hash?: KeyHash) {
    this.keys = keys;
    this.hash = hash ?? seededKeyHash(randomBytes(4).readInt32LE(0));
  }

  /** Loads `h`'s first slot, nothing else (the read-ahead's step: returns 0 or 1 so it is not optimised away). */
  peek(h: number): number {
    return this.slots[2 * (h & this.mask)] === 0 ? 0 : 1;
  }

  /** The row of `key` (of hash `h`), or -1. */
  find(key: string, h: number): number {
    const slots = this.slots;
    const mask = this.mask;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const r = slots[2 * s]!;
      if (r === 0) return -1;
      if (slots[2 * s + 1] === h && this.keys[r - 1] === key) return r - 1;
    }
  }

  /** Adds `row` for a key of hash `h` that is not in the index (the caller looked). */
  insert(h: number, row: number): void {
    if ((this.size + 1) * SPREAD > this.mask + 1) this.grow();
    this.place(h, row);
    this.size++;
  }

  /** Removes `row`, whose key has hash `h` (the key owning the row until now). */
  remove(h: number, row: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let s = h & mask;
    while (slots[2 * s] !== row + 1) {
      if (slots[2 * s] === 0) throw new Error(`GroupIndex: row ${row} is not indexed`);
      s = (s + 1) & mask;
    }
    // Backward shift: each later entry of the run whose home slot is not cyclically in (s, j]
    // moves into the hole, so no lookup ever stops early at it and no tombstone is left.
    for (let j = (s + 1) & mask; slots[2 * j] !== 0; j = (j + 1) & mask) {
      const home = slots[2 * j + 1]! & mask;
      const between = s <= j ? s < home && home <= j : s < home || home <= j;
      if (between) continue;
      slots[2 * s] = slots[2 * j]!;
      slots[2 * s + 1] = slots[2 * j + 1]!;
      s = j;
    }
    slots[2 * s] = 0;
    slots[2 * s + 1] = 0;
    this.size--;
  }

  private place(h: number, row: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let s = h & mask;
    while (slots[2 * s] !== 0) s = (s + 1) & mask;
    slots[2 * s] = row + 1;
    slots[2 * s + 1] = h;
  }

  /** Twice the slots, every entry placed again by its stored hash (no key is hashed again). */
  private grow(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2);
    this.mask = this.mask * 2 + 1;
    for (let s = 0; s < old.length; s += 2) if (old[s] !== 0) this.place(old[s + 1]!, old[s]! - 1);
  }
}
