import { randomBytes } from 'node:crypto';
import { diag } from '@opentelemetry/api';

/** A hash of a group key's text to 32 bits (GroupIndex's own by default; the tests force collisions). */
export type KeyHash = (key: string) => number;

/** A key hash per seed: GroupIndex takes a new one when it reseeds (seededKeyHash by default; the tests force collisions). */
export type KeyHashFactory = (seed: number) => KeyHash;

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
 * The most occupied slots an insert may pass before the index takes a new seed. With a random
 * hash at load 1/2 an insert passes 64 or more about once in 10^N inserts (TAIL), so a walk
 * this long means keys aimed at one run, not bad luck: 2 x 10^7 inserts into 2^17 slots at load
 * 1/2, random homes, passed 32 or more 2 times in 10,000 and never 48 (at most 41); at load 0.38
 * (100,000 groups, the default maxGroupsPerRule) at most 24.
 */
export const MAX_PROBE = 64;

const randomSeed = (): number => randomBytes(4).readInt32LE(0);

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
 * (an invented id aimed at a victim's) must never share a group. Probe lengths are kept short
 * by the load factor (at most 1/2) and the random seed, and bounded against keys found to
 * collide: an insert passing more than MAX_PROBE slots takes a new seed, and if that does not
 * help the table keeps its groups in a Map (`reseed`). A deleted entry leaves no tombstone (the
 * entries after it in its run shift back), so a table churned by evictions probes as a fresh one.
 * Memory: at most 4 slots (32 B) per entry just after growth, 2 (16 B) at the least, against
 * the Map's ~28-56 B (3 words an entry plus half a bucket word, its capacity a power of two).
 */
export class GroupIndex {
  /** The table's key per row (GroupTable.keys), read to compare the text on a hash match and to hash again on a reseed. */
  private readonly keys: readonly string[];
  private readonly hashOf: KeyHashFactory;
  /** The key hash of the current seed (a new one after a reseed: callers hash with it each time, never keep a hash across an insert). */
  hash: KeyHash;
  /** Per slot s: [2s] row + 1 (0: empty), [2s + 1] the key's hash. */
  private slots = new Int32Array(2 * 16);
  private mask = 15;
  size = 0;
  /** Times the index took a new seed after an insert passed more than MAX_PROBE slots. */
  reseeds = 0;
  /** Inserts since the last reseed: another long walk sooner than `size` of them and a reseed would no longer be amortised. */
  private insertsSinceReseed = 0;
  /** Set when reseeding did not help (keys that collide whatever the seed): the rows are kept in a Map from then on. */
  private map: Map<string, number> | undefined;

  constructor(keys: readonly string[], hashOf: KeyHashFactory = seededKeyHash) {
    this.keys = keys;
    this.hashOf = hashOf;
    this.hash = hashOf(randomSeed());
  }

  /** Whether the index gave up on its slots for a Map (see `fallBack`). */
  get fellBack(): boolean {
    return this.map !== undefined;
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
      // After a fall-back the slots are one empty slot: every find ends here and asks the Map
      // (the hit path of the slots pays nothing for it).
      if (r === 0) return this.map === undefined ? -1 : (this.map.get(key) ?? -1);
      if (slots[2 * s + 1] === h && this.keys[r - 1] === key) return r - 1;
    }
  }

  /** Adds `row` (its key already at keys[row]) for a key of hash `h` that is not in the index (the caller looked). */
  insert(h: number, row: number): void {
    this.size++;
    if (this.map !== undefined) {
      this.map.set(this.keys[row]!, row);
      return;
    }
    if (this.size * SPREAD > this.mask + 1) this.rebuild(this.slots.length * 2, false);
    this.insertsSinceReseed++;
    if (this.place(h, row) > MAX_PROBE) this.reseed();
  }

  /** Removes `row`, whose key has hash `h` (the key owning the row until now, still at keys[row]). */
  remove(h: number, row: number): void {
    if (this.map !== undefined) {
      if (!this.map.delete(this.keys[row]!)) throw new Error(`GroupIndex: row ${row} is not indexed`);
      this.size--;
      return;
    }
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

  /** Places `row` of hash `h` in the first empty slot from its home; returns the occupied slots passed. */
  private place(h: number, row: number): number {
    const slots = this.slots;
    const mask = this.mask;
    let s = h & mask;
    let passed = 0;
    while (slots[2 * s] !== 0) {
      s = (s + 1) & mask;
      passed++;
    }
    slots[2 * s] = row + 1;
    slots[2 * s + 1] = h;
    return passed;
  }

  /**
   * Every entry placed again in `length` ints of slots: by its stored hash when the table grows
   * (no key is hashed again), hashed again from its key text after a reseed. Returns the longest
   * walk a placement took.
   */
  private rebuild(length: number, rehash: boolean): number {
    const old = this.slots;
    this.slots = new Int32Array(length);
    this.mask = length / 2 - 1;
    let longest = 0;
    for (let s = 0; s < old.length; s += 2) {
      const r = old[s]!;
      if (r === 0) continue;
      const passed = this.place(rehash ? this.hash(this.keys[r - 1]!) : old[s + 1]!, r - 1);
      if (passed > longest) longest = passed;
    }
    return longest;
  }

  /**
   * An insert passed more than MAX_PROBE slots: keys aimed at one run. The hash's seed is what an
   * attacker cannot see, so a new random one scatters keys found to collide under the old
   * (O(n) once; the table's keys are hashed again from their text). If that does not help (the
   * new seed's placement has a run as long, or the next long walk comes before `size` more
   * inserts: keys that collide whatever the seed), the index falls back to a Map: V8's hash has
   * its own per-process seed and no probe run, so the worst case is bounded again. Rows and
   * answers are the same either way; only the cost per lookup changes.
   */
  private reseed(): void {
    if (this.reseeds > 0 && this.insertsSinceReseed < this.size) {
      this.fallBack();
      return;
    }
    this.reseeds++;
    this.insertsSinceReseed = 0;
    this.hash = this.hashOf(randomSeed());
    if (this.rebuild(this.slots.length, true) > MAX_PROBE) this.fallBack();
  }

  private fallBack(): void {
    const map = new Map<string, number>();
    const old = this.slots;
    for (let s = 0; s < old.length; s += 2) if (old[s] !== 0) map.set(this.keys[old[s]! - 1]!, old[s]! - 1);
    this.map = map;
    // One empty slot: find stops at once and asks the Map; the hash is not needed any more.
    this.slots = new Int32Array(2);
    this.mask = 0;
    this.hash = () => 0;
    diag.warn(
      `llmsec detect: a group table's index met keys that collide whatever its hash seed ` +
        `(${map.size} groups, ${this.reseeds} reseed(s)): it keeps its groups in a Map from now on ` +
        `(the same groups and answers, a slower lookup)`,
    );
  }
}
