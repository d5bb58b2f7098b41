import { randomBytes } from 'node:crypto';

/**
 * A bounded set of recently seen event ids: the same security event reaches the engine as a
 * span event, as a log record and possibly through the SDK's onEvent hook, and must count
 * once. Oldest ids are forgotten first (FIFO), so memory is fixed at `capacity` ids.
 *
 * An open-addressing table of ring slots in typed arrays, not a Set (issue 13): a Set of the
 * last 10,000 ids deletes one id per new one, and V8 rebuilds a hash table that accumulates
 * deleted entries every few thousand inserts, each a ~330 KB large object; on a 1 M-event
 * replay that garbage cost ~400 B of peak RSS per active user and ~0.3 s of CPU. Here nothing
 * is allocated after construction: a forgotten id leaves the table by backward-shift deletion
 * (linear probing, no tombstones), found by its slot number, not by comparing strings.
 *
 * The hash is seeded per instance (crypto-random), so a log cannot be written to collide ids
 * into one probe chain; the table is at most half full, and each id is hashed once, in
 * time linear in its length (the decoders cut ids to 256 units).
 */
/** How many of the latest ids keep the value `addOrFind` recorded with them. */
export const VALUE_SPAN = 256;

export class RecentIds {
  /** Ids in insertion order, overwritten oldest first. */
  private readonly ring: unknown[];
  /**
   * Per ring slot, what `addOrFind` recorded with its id (memory mode: the event, for the
   * exact-copy check), for the last VALUE_SPAN ids only (undefined before).
   */
  private readonly values: unknown[];
  /** Each ring slot's hash (so that a deletion and a probe compare numbers first). */
  private readonly hashes: Int32Array;
  /** Ring slot + 1 per table position; 0 = empty. */
  private readonly table: Int32Array;
  private readonly mask: number;
  private readonly seed: number;
  private next = 0;
  private count = 0;

  constructor(capacity: number) {
    if (!(capacity >= 1)) throw new Error(`RecentIds: capacity must be at least 1, got ${capacity}`);
    this.ring = new Array<unknown>(capacity).fill(undefined);
    this.values = new Array<unknown>(capacity).fill(undefined);
    this.hashes = new Int32Array(capacity);
    let size = 4;
    while (size < capacity * 2) size *= 2;
    this.table = new Int32Array(size);
    this.mask = size - 1;
    this.seed = randomBytes(4).readInt32LE(0);
  }

  /** Records the id; false when it was already recorded (a duplicate). */
  add(id: string): boolean {
    return this.addOrFind(id, undefined) < 0;
  }

  /**
   * Records the id with `value` and returns -1, or, when the id is recorded already, returns
   * its slot (for valueAt / setValueAt) and records nothing. `h`: the id's 32-bit hash when the
   * caller has one (the engine's seeded idHash, so each id is hashed once per event); every call
   * on one instance must give it or none, so that equal ids meet in one chain.
   */
  addOrFind(id: unknown, value: unknown, h: number = this.hash(id)): number {
    const table = this.table;
    const mask = this.mask;
    let i = h & mask;
    for (let s = table[i]!; s !== 0; s = table[i]!) {
      const other = this.ring[s - 1];
      // SameValueZero, as a Set compares (only NaN differs from ===; ids are strings).
      if (this.hashes[s - 1] === h && (other === id || (other !== other && id !== id))) return s - 1;
      i = (i + 1) & mask;
    }
    const slot = this.next;
    if (this.count === this.ring.length) this.remove(slot);
    else this.count++;
    this.ring[slot] = id;
    this.values[slot] = value;
    // Values are kept for the last VALUE_SPAN ids only: an event held for 10,000 ids outlived
    // two scavenges and was promoted, so every event of a replay went through the old space
    // (measured: +22 % engine-thread CPU, +106 MB peak RSS on 1 M lines).
    if (this.ring.length > VALUE_SPAN)
      this.values[slot >= VALUE_SPAN ? slot - VALUE_SPAN : slot + this.ring.length - VALUE_SPAN] = undefined;
    this.hashes[slot] = h;
    // The removal may have moved entries, but only into positions of its own chain: the
    // first empty position of this id's chain is found again from its start.
    i = h & mask;
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = slot + 1;
    this.next = slot + 1 === this.ring.length ? 0 : slot + 1;
    return -1;
  }

  valueAt(slot: number): unknown {
    return this.values[slot];
  }

  setValueAt(slot: number, value: unknown): void {
    this.values[slot] = value;
  }

  get size(): number {
    return this.count;
  }

  /** Takes ring slot `slot`'s id out of the table (backward-shift deletion). */
  private remove(slot: number): void {
    const table = this.table;
    const mask = this.mask;
    let i = this.hashes[slot]! & mask;
    while (table[i] !== slot + 1) i = (i + 1) & mask;
    // Move later entries of the cluster back into the hole when their home is not between the
    // hole and their position (cyclically), so that every entry stays reachable from its home.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const s = table[j]!;
      if (s === 0) break;
      const home = this.hashes[s - 1]! & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        table[i] = s;
        i = j;
      }
    }
    table[i] = 0;
    this.ring[slot] = undefined;
    this.values[slot] = undefined;
  }

  /**
   * A seeded 32-bit hash of the id's UTF-16 units (Murmur-style mixing). Decoders give strings;
   * a number, bigint or boolean from a direct caller hashes as its text (SameValueZero agrees:
   * 0 and -0 are one id), so 30,000 numeric ids do not share one chain. Other values hash to 0.
   */
  private hash(value: unknown): number {
    const t = typeof value;
    const id =
      t === 'string'
        ? (value as string)
        : t === 'number' || t === 'bigint' || t === 'boolean'
          ? String(value)
          : '';
    if (id === '' && t !== 'string') return 0;
    let h = this.seed ^ id.length;
    for (let k = 0; k < id.length; k++) {
      h = Math.imul(h ^ id.charCodeAt(k), 0x5bd1e995);
      h ^= h >>> 15;
    }
    h = Math.imul(h ^ (h >>> 13), 0x85ebca6b);
    return h ^ (h >>> 16);
  }
}
