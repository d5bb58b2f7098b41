/**
 * The items a stream observer holds back, with the text offset each one ends at: a FIFO
 * without shift() (shift is linear in the queue's length on large arrays).
 *
 * The taken prefix is dropped when the head passes half the array (and a small floor), not
 * only when the queue empties: a guard that always holds something (the leakage guard's
 * partial word or canary tail) rarely lets it empty, and the slots already taken would
 * otherwise stay allocated for the whole stream (~16 bytes an item: large for 1-character
 * deltas). Each compaction moves at most as many items as were taken since the last one, so
 * it is amortised O(1) per item, and the arrays stay within twice what is held (+ the floor).
 */
export class HeldItems {
  private readonly items: unknown[] = [];
  private readonly ends: number[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  /** Slots the queue keeps (held items plus taken ones not yet dropped): for tests. */
  get retained(): number {
    return this.items.length;
  }

  push(item: unknown, end: number): void {
    this.items.push(item);
    this.ends.push(end);
  }

  /** The oldest item if it ends at or before `safe` (removed), else the marker. */
  takeIfBefore(safe: number): unknown {
    if (this.head >= this.items.length || (this.ends[this.head] as number) > safe) return NONE;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head++;
    if (this.head === this.items.length) {
      // Emptied: reused from the start (a stream that holds back often allocates nothing more).
      this.items.length = 0;
      this.ends.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_FLOOR && this.head * 2 >= this.items.length) {
      this.compact();
    }
    return item;
  }

  /** Drops the taken prefix; shortening an array lets V8 trim its backing store. */
  private compact(): void {
    const n = this.items.length - this.head;
    this.items.copyWithin(0, this.head);
    this.ends.copyWithin(0, this.head);
    this.items.length = n;
    this.ends.length = n;
    this.head = 0;
  }
}

/** Below this many taken slots the prefix is left in place: copying a few items often costs more than it frees. */
export const COMPACT_FLOOR = 32;

/** What takeIfBefore returns when the oldest item may not be released yet (items may be undefined). */
export const NONE: unique symbol = Symbol('none');
