/**
 * The last HELD_IDS event ids each group of a table processed (as idHash numbers), to drop an
 * event whose id its group already counted: the shared state's rule (group-runner.ts keeps a
 * group's last 32 processed ids), so one process in memory and a fleet on Redis drop the same
 * repeats. Per group, not per process: an id repeated in another group (a bug, or a forged id:
 * Bob's block carrying the id of Alice's) counts there, where the fleet's group never held it;
 * and one group's traffic cannot push another group's ids out.
 *
 * A row's ids sit in one block of a pool sized to what it holds: 4 ids, then 8, 16 and 32 (then
 * a ring), so a group that processed n events costs about 8n bytes, at most 256, plus 6 bytes of
 * row index, not 257 bytes from its first event (replay: half the users hold 9 to 16 ids). The
 * pool is chunks of 64 KB, never copied, allocated only once an event fed through `ingestOnce`
 * reaches the table; a freed block (a row grown or evicted) is reused, a larger one split.
 *
 * Bounded however groups come and go (an attacker's keys evicting rows): a block of a class is
 * made (new, or by a split) only while that class has no free block, so when every block of the
 * class is in use, one per row at most; a class never has more than maxRows + 2 blocks, and the
 * pool never more than (4 + 8 + 16 + 32) ids, 480 bytes, per row and two more (`poolBytes`).
 */
export const HELD_IDS = 32;

/** Ids per chunk: a multiple of HELD_IDS, so a block never spans two chunks. */
const CHUNK_IDS = 8192;
const CHUNK_SHIFT = 13;

/** The block size class of a row holding `n` ids (0: 4 ids, 1: 8, 2: 16, 3: 32). */
function sizeClass(n: number): number {
  return n <= 4 ? 0 : n <= 8 ? 1 : n <= 16 ? 2 : 3;
}

export class GroupIds {
  private readonly chunks: Float64Array[] = [];
  /** Next unused id position of the last chunk (CHUNK_IDS: none left). */
  private top = CHUNK_IDS;
  /** Free blocks per size class, as pool positions. */
  private readonly free: number[][] = [[], [], [], []];
  /** Per row: its block's pool position (meaningful while `len` > 0). */
  private at = new Uint32Array(0);
  /** Per row: the ids it holds, at most HELD_IDS. */
  private len = new Uint8Array(0);
  /** Per row holding HELD_IDS: the ring position the next id is written to (the oldest's). */
  private next = new Uint8Array(0);

  private readonly maxRows: number;

  constructor(maxRows: number) {
    this.maxRows = maxRows;
  }

  /**
   * Whether row `row` holds id `h` (a repeat: true); otherwise records it, pushing out the
   * row's oldest when HELD_IDS are held. O(HELD_IDS).
   */
  repeat(row: number, h: number): boolean {
    if (row >= this.len.length) this.grow(row + 1);
    const n = this.len[row]!;
    let pos = this.at[row]!;
    if (n > 0) {
      const chunk = this.chunks[pos >>> CHUNK_SHIFT]!;
      const base = pos & (CHUNK_IDS - 1);
      for (let i = base, end = base + n; i < end; i++) if (chunk[i] === h) return true;
    }
    if (n === HELD_IDS) {
      const k = this.next[row]!;
      this.chunks[pos >>> CHUNK_SHIFT]![(pos & (CHUNK_IDS - 1)) + k] = h;
      this.next[row] = k + 1 === HELD_IDS ? 0 : k + 1;
      return false;
    }
    // Full at 4, 8 or 16 (or empty): move to a block twice the size. Before HELD_IDS the ids
    // are in order, oldest first, so the ring starts at 0 once full.
    if (n === 0 || n === 4 << sizeClass(n)) {
      const to = this.alloc(n === 0 ? 0 : sizeClass(n) + 1);
      if (n > 0) {
        // Copied id by id (at most 16): `set(from.subarray(...))` made a typed-array object per
        // move, three moves per group and table, and cost more than the checks themselves
        // (engine thread of a 60,000-user replay: ~1.3 % against ~0.7 % for the scans).
        const from = this.chunks[pos >>> CHUNK_SHIFT]!;
        const dest = this.chunks[to >>> CHUNK_SHIFT]!;
        const base = pos & (CHUNK_IDS - 1);
        const destBase = to & (CHUNK_IDS - 1);
        for (let k = 0; k < n; k++) dest[destBase + k] = from[base + k]!;
        this.free[sizeClass(n)]!.push(pos);
      }
      pos = to;
      this.at[row] = to;
    }
    this.chunks[pos >>> CHUNK_SHIFT]![(pos & (CHUNK_IDS - 1)) + n] = h;
    this.len[row] = n + 1;
    return false;
  }

  /**
   * Whether row `row` holds id `h`, without recording it (repeat's check alone): for an event
   * that arrives too late to be processed, to tell a copy of one already counted from a loss.
   */
  holds(row: number, h: number): boolean {
    if (row >= this.len.length) return false;
    const n = this.len[row]!;
    if (n === 0) return false;
    const pos = this.at[row]!;
    const chunk = this.chunks[pos >>> CHUNK_SHIFT]!;
    const base = pos & (CHUNK_IDS - 1);
    for (let i = base, end = base + n; i < end; i++) if (chunk[i] === h) return true;
    return false;
  }

  /**
   * Reads, without writing, what `repeat(row, ...)` will scan: the row's index entries and its
   * block's ids, a cache line (8 ids) apart, and the last one (group-prefetch.ts: the misses of
   * a batch of events overlap instead of stalling each event's check in turn). Returns 0 or 1,
   * only so that the loads are not optimised away.
   */
  peek(row: number): number {
    if (row >= this.len.length) return 0;
    const n = this.len[row]!;
    if (n === 0) return 0;
    const pos = this.at[row]!;
    const chunk = this.chunks[pos >>> CHUNK_SHIFT]!;
    const base = pos & (CHUNK_IDS - 1);
    const end = base + n - 1;
    let sum = 0;
    for (let i = base; i <= end; i += 8) sum += chunk[i]!;
    return sum + chunk[end]! > 0 ? 1 : 0;
  }

  /** Empties row `row` (its group was evicted and the row given to another). */
  reset(row: number): void {
    if (row >= this.len.length) return;
    const n = this.len[row]!;
    if (n > 0) this.free[sizeClass(n)]!.push(this.at[row]!);
    this.len[row] = 0;
    this.next[row] = 0;
  }

  /** Pool bytes held (blocks in use, free ones and the unused rest of the last chunk). */
  get poolBytes(): number {
    return this.chunks.length * CHUNK_IDS * 8;
  }

  /** A block of class `cls`: a free one, else half of a larger free one split, else new. */
  private alloc(cls: number): number {
    const own = this.free[cls]!;
    if (own.length > 0) return own.pop()!;
    for (let c = cls + 1; c < 4; c++) {
      const larger = this.free[c]!;
      if (larger.length === 0) continue;
      // Split in halves down to cls: the upper half of each level is free at that level.
      const pos = larger.pop()!;
      for (let k = c - 1; k >= cls; k--) this.free[k]!.push(pos + (4 << k));
      return pos;
    }
    const size = 4 << cls;
    if (this.top + size > CHUNK_IDS) {
      this.chunks.push(new Float64Array(CHUNK_IDS));
      this.top = 0;
    }
    const pos = (this.chunks.length - 1) * CHUNK_IDS + this.top;
    this.top += size;
    return pos;
  }

  private grow(rows: number): void {
    let size = Math.max(64, this.len.length);
    while (size < rows) size *= 2;
    size = Math.max(rows, Math.min(size, this.maxRows));
    const at = new Uint32Array(size);
    at.set(this.at);
    const len = new Uint8Array(size);
    len.set(this.len);
    const next = new Uint8Array(size);
    next.set(this.next);
    this.at = at;
    this.len = len;
    this.next = next;
  }
}
