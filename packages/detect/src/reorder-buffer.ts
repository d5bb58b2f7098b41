import type { SecurityEvent } from '@llmsec/core';

/**
 * Holds events until the watermark passes them, releasing them in event-time order (ties in
 * arrival order). A growable ring: in-order arrivals append in O(1) and release in O(1); an
 * out-of-order one is placed by binary search and shifts the entries after it, which are only
 * those within the allowed lateness.
 */
export class ReorderBuffer {
  /**
   * Event times as the values `insert` was given, not unboxed: an array of doubles hands each
   * time back as a fresh float, which V8 boxes again (a 16 B heap number per event) when the
   * engine passes it on to `process`, a call it does not inline. An array of tagged values
   * keeps the caller's own number. Hence filled with `undefined` (generic elements), never
   * with a number.
   */
  private times: number[] = timesArray(1024);
  private events: (SecurityEvent | undefined)[] = new Array<SecurityEvent | undefined>(1024).fill(undefined);
  /** Per event, its id's idHash when its groups drop repeats (ingestOnce), else 0. */
  private hashes: number[] = new Array<number>(1024).fill(0);
  private mask = 1023;
  private head = 0;
  size = 0;

  insert(event: SecurityEvent, t: number, h = 0): void {
    if (this.size > this.mask) this.grow();
    const times = this.times;
    const mask = this.mask;
    let at = this.size;
    if (at > 0 && times[(this.head + at - 1) & mask]! > t) {
      // Upper bound: after every entry with time <= t, so equal times keep arrival order.
      let lo = 0;
      let hi = at;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (times[(this.head + mid) & mask]! <= t) lo = mid + 1;
        else hi = mid;
      }
      for (let k = at; k > lo; k--) {
        const to = (this.head + k) & mask;
        const from = (this.head + k - 1) & mask;
        times[to] = times[from]!;
        this.events[to] = this.events[from];
        this.hashes[to] = this.hashes[from]!;
      }
      at = lo;
    }
    const i = (this.head + at) & mask;
    times[i] = t;
    this.events[i] = event;
    this.hashes[i] = h;
    this.size++;
  }

  /** Time of the oldest held event, or +Infinity. */
  peekTime(): number {
    return this.size > 0 ? this.times[this.head]! : Number.POSITIVE_INFINITY;
  }

  /** The oldest held event's id hash (see `insert`); read before `shift`. */
  peekHash(): number {
    return this.hashes[this.head]!;
  }

  /** The k-th oldest held event (k < size), without removing it. */
  eventAt(k: number): SecurityEvent {
    return this.events[(this.head + k) & this.mask]!;
  }

  /** Removes the oldest event and returns it; its time was peekTime(). */
  shift(): SecurityEvent {
    const event = this.events[this.head]!;
    this.events[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.size--;
    return event;
  }

  /**
   * Takes the events of `which` (by identity) out, returned with their times, oldest first; the
   * others keep their order. O(size). Shared mode's fallback engine only: the events it took
   * while degraded and has not processed yet go to Redis instead when it answers
   * (state/degraded-record.ts).
   */
  remove(which: ReadonlySet<SecurityEvent>): { t: number; event: SecurityEvent }[] {
    const out: { t: number; event: SecurityEvent }[] = [];
    const mask = this.mask;
    let kept = 0;
    for (let k = 0; k < this.size; k++) {
      const from = (this.head + k) & mask;
      const event = this.events[from]!;
      if (which.has(event)) {
        out.push({ t: this.times[from]!, event });
        continue;
      }
      if (kept !== k) {
        const to = (this.head + kept) & mask;
        this.times[to] = this.times[from]!;
        this.events[to] = event;
        this.hashes[to] = this.hashes[from]!;
      }
      kept++;
    }
    for (let k = kept; k < this.size; k++) this.events[(this.head + k) & mask] = undefined;
    this.size = kept;
    return out;
  }

  private grow(): void {
    const cap = (this.mask + 1) * 2;
    const times = timesArray(cap);
    const events = new Array<SecurityEvent | undefined>(cap).fill(undefined);
    const hashes = new Array<number>(cap).fill(0);
    for (let k = 0; k < this.size; k++) {
      times[k] = this.times[(this.head + k) & this.mask]!;
      events[k] = this.events[(this.head + k) & this.mask];
      hashes[k] = this.hashes[(this.head + k) & this.mask]!;
    }
    this.times = times;
    this.events = events;
    this.hashes = hashes;
    this.mask = cap - 1;
    this.head = 0;
  }
}

/** An array of `cap` times in generic (tagged) elements: see ReorderBuffer.times. */
function timesArray(cap: number): number[] {
  return new Array<number | undefined>(cap).fill(undefined) as number[];
}

/**
 * Each engine's reorder buffer, for shared mode's fallback (state/fallback-feed.ts): a WeakMap,
 * not a member, as lifecycleOf (nothing public to add to DetectionEngine).
 */
const buffers = new WeakMap<object, ReorderBuffer>();

export function registerReorderBuffer(engine: object, buffer: ReorderBuffer): void {
  buffers.set(engine, buffer);
}

export function reorderBufferOf(engine: object): ReorderBuffer | undefined {
  return buffers.get(engine);
}
