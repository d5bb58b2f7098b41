import type { SecurityEvent } from '@llmsec/core';

/** An event as queued for the flusher: its event time and the event. */
export interface Timed {
  t: number;
  event: SecurityEvent;
}

/**
 * The events ingest() queued for the flusher, oldest first, bounded: a full queue drops the
 * oldest (the caller counts it). An array with a moving head, compacted once the taken prefix
 * is over half of it (amortized O(1) per event).
 */
export class EventQueue {
  private items: Timed[] = [];
  private head = 0;
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** Adds `item`; returns false when the queue was full and its oldest event was dropped for it. */
  push(item: Timed): boolean {
    let kept = true;
    if (this.length >= this.max) {
      this.head++;
      kept = false;
    }
    this.items.push(item);
    return kept;
  }

  /** Takes up to `n` events, oldest first. */
  take(n: number): Timed[] {
    const batch = this.items.slice(this.head, this.head + n);
    this.head += batch.length;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  /** Takes everything queued. */
  drain(): Timed[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }

  /** The oldest event time queued (+Infinity: empty). O(length). */
  oldestTime(): number {
    let oldest = Number.POSITIVE_INFINITY;
    const items = this.items;
    for (let i = this.head; i < items.length; i++) if (items[i]!.t < oldest) oldest = items[i]!.t;
    return oldest;
  }
}
