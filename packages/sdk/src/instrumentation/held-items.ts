import { MAX_HELD_CHARS } from './stream-limit.ts';

/**
 * The items a stream observer holds back, with the text offset each one ends at and its
 * characters (their running sum, `chars`, is what the hold's cap reads): a FIFO without
 * shift() (shift is linear in the queue's length on large arrays).
 *
 * The taken prefix is dropped when the head passes half the used slots (and a small floor),
 * not only when the queue empties: a guard that always holds something (the leakage guard's
 * partial word or canary tail) rarely lets it empty, and the slots already taken would
 * otherwise stay allocated for the whole stream (~24 bytes an item with its end and size:
 * large for 1-character deltas). Each compaction moves at most as many items as were taken since the last one, so
 * it is amortised O(1) per item. The freed slots are reused by later pushes (shrinking the
 * arrays each time made V8 trim and regrow them: +15-35% CPU per item in
 * bench/instrumentation/held-items.ts); the arrays are shortened only when they are more than
 * twice the used slots plus the floor. So the arrays never exceed 2 x used + FLOOR slots, and
 * used slots max(held + FLOOR, 2 x held): at most max(2 x held + 3 x FLOOR, 4 x held + FLOOR).
 */
export class HeldItems {
  /** Characters (held-chars.ts) the stream may hold back at once: past it, the stream is cut (stream.ts). */
  readonly cap: number;
  /** Characters of the held items, a running count (each item's counted once, at its push). */
  chars = 0;
  private readonly items: unknown[] = [];
  private readonly ends: number[] = [];
  private readonly sizes: number[] = [];
  private head = 0;
  /** Slots [head, tail) hold the items; slots from tail on are free (undefined). */
  private tail = 0;

  /** `cap`: MAX_HELD_CHARS; tests set it lower. */
  constructor(cap = MAX_HELD_CHARS) {
    this.cap = cap;
  }

  get size(): number {
    return this.tail - this.head;
  }

  /** Slots the queue keeps allocated: for tests. */
  get retained(): number {
    return this.items.length;
  }

  /** `chars`: the item's characters (itemChars), counted while it is held. */
  push(item: unknown, end: number, chars = 0): void {
    if (this.tail === this.items.length) {
      this.items.push(item);
      this.ends.push(end);
      this.sizes.push(chars);
    } else {
      this.items[this.tail] = item;
      this.ends[this.tail] = end;
      this.sizes[this.tail] = chars;
    }
    this.tail++;
    this.chars += chars;
  }

  /** The oldest item if it ends at or before `safe` (removed), else the marker. */
  takeIfBefore(safe: number): unknown {
    if (this.head === this.tail || (this.ends[this.head] as number) > safe) return NONE;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.chars -= this.sizes[this.head] as number;
    this.head++;
    if (this.head === this.tail) {
      // Emptied: reused from the start (a stream that holds back often allocates nothing more).
      this.head = 0;
      this.tail = 0;
      this.shrinkTo(0);
    } else if (this.head >= COMPACT_FLOOR && this.head * 2 >= this.tail) {
      this.compact();
    }
    return item;
  }

  /** Moves the held items to the front; the slots they leave are cleared (no reference kept). */
  private compact(): void {
    const n = this.tail - this.head;
    // Plain loops: copyWithin and fill are generic builtins, several times slower on these short runs.
    const { items, ends, sizes } = this;
    for (let i = 0; i < n; i++) {
      items[i] = items[this.head + i];
      ends[i] = ends[this.head + i] as number;
      sizes[i] = sizes[this.head + i] as number;
    }
    for (let i = n; i < this.tail; i++) items[i] = undefined;
    this.head = 0;
    this.tail = n;
    this.shrinkTo(n);
  }

  /** Shortens the arrays to `used` slots when they are larger than 2 x used + the floor (V8 then trims them). */
  private shrinkTo(used: number): void {
    if (this.items.length <= 2 * used + COMPACT_FLOOR) return;
    this.items.length = used;
    this.ends.length = used;
    this.sizes.length = used;
  }
}

/** Below this many taken slots the prefix is left in place: copying a few items often costs more than it frees. */
export const COMPACT_FLOOR = 32;

/** What takeIfBefore returns when the oldest item may not be released yet (items may be undefined). */
export const NONE: unique symbol = Symbol('none');
