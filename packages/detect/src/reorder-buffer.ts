import type { SecurityEvent } from '@llmsec/core';

/**
 * Holds events until the watermark passes them, releasing them in event-time order (ties in
 * arrival order). In-order arrivals append in O(1); an out-of-order one is inserted by binary
 * search, which costs a copy of the events after it, and those are only the ones within the
 * allowed lateness.
 */
export class ReorderBuffer {
  private times: number[] = [];
  private events: SecurityEvent[] = [];
  private head = 0;

  get size(): number {
    return this.times.length - this.head;
  }

  insert(event: SecurityEvent, t: number): void {
    const times = this.times;
    const n = times.length;
    if (n === this.head || times[n - 1]! <= t) {
      times.push(t);
      this.events.push(event);
      return;
    }
    // Upper bound: after every entry with time <= t, so equal times keep arrival order.
    let lo = this.head;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (times[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    times.splice(lo, 0, t);
    this.events.splice(lo, 0, event);
  }

  /** Time of the oldest held event, or +Infinity. */
  peekTime(): number {
    return this.head < this.times.length ? this.times[this.head]! : Number.POSITIVE_INFINITY;
  }

  /** Removes the oldest event and returns it; its time was peekTime(). */
  shift(): SecurityEvent {
    const event = this.events[this.head]!;
    this.events[this.head] = undefined as unknown as SecurityEvent;
    this.head++;
    if (this.head === this.times.length) {
      this.times.length = 0;
      this.events.length = 0;
      this.head = 0;
    } else if (this.head >= 4096 && this.head * 2 >= this.times.length) {
      this.times = this.times.slice(this.head);
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
    return event;
  }
}
