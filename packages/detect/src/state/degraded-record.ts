import type { SecurityEvent } from '@llmsec/core';
import type { Timed } from './event-queue.ts';

/** Events recorded in an episode at most (as HeldBatch's MAX_HELD_EVENTS): past it, none go to Redis. */
export const MAX_RECORDED_EVENTS = 10_000;

/**
 * The events the local (fallback) engine took while a failed round's batch was held (HeldBatch),
 * so that those it has not processed yet go to Redis when it answers, after the held batch.
 * Without this, a user whose events fell in the failed round and in the degraded time after it
 * was split: the first in Redis (resent), the rest local, so a threshold the two reached
 * together was reached by neither (5 blocks in the round, 5 while degraded, a rule at 10: no
 * firing line).
 *
 * Two phases. Recording (Redis down): references to the events as the engine took them. On
 * Redis's return (FallbackFeed.reclaim) the engine gives back those still in its reorder buffer,
 * unprocessed (while a batch is held its time stays within the allowed lateness of the held
 * batch, so the buffer still holds the events after it): they become the record, oldest first,
 * shipped in rounds of their own (not as a resend: new to Redis) and counted nowhere else. Those
 * it processed or dropped already stay local (`degradedNotResent`).
 *
 * Forgotten (the episode's events stay local, as before the record) when the held batch goes
 * to the local engine after all (then nothing is split), and counted in `degradedNotResent`
 * past MAX_RECORDED_EVENTS.
 */
export class DegradedRecord {
  private events: Timed[] = [];
  private head = 0;
  /** Past the cap in this episode: nothing more is recorded until forget(). */
  private full = false;
  /**
   * The events are the engine's given back (replace): out of its buffer, to be shipped. Else
   * (recording) they are still the engine's, and must not be given to it again.
   */
  private given = false;

  get size(): number {
    return this.events.length - this.head;
  }

  /** Something was recorded (or refused) since the last forget(). */
  get started(): boolean {
    return this.full || this.size > 0;
  }

  /** Whether the events held are the engine's given back for Redis (not in the engine any more). */
  get givenBack(): boolean {
    return this.given;
  }

  /** Time of the oldest event recorded (+Infinity: none); O(size), read between rounds only. */
  get oldest(): number {
    let min = Number.POSITIVE_INFINITY;
    for (let k = this.head; k < this.events.length; k++) if (this.events[k]!.t < min) min = this.events[k]!.t;
    return min;
  }

  /**
   * Records `e`. Returns how many events this call leaves to the local engine only: 0 when
   * recorded; past MAX_RECORDED_EVENTS, `e` and (the first time) every event recorded so far,
   * which are dropped: a part of the episode sent to Redis would split it again.
   */
  record(e: Timed): number {
    if (this.full) return 1;
    if (this.size >= MAX_RECORDED_EVENTS) {
      this.full = true;
      const dropped = this.size;
      this.events = [];
      this.head = 0;
      return dropped + 1;
    }
    this.events.push(e);
    return 0;
  }

  /** The recorded events, by identity (for the engine's buffer to give them back). */
  recorded(): Set<SecurityEvent> {
    const set = new Set<SecurityEvent>();
    for (let k = this.head; k < this.events.length; k++) set.add(this.events[k]!.event);
    return set;
  }

  /** The record becomes `events` (those the engine gave back, oldest first); the cap's refusal is over. */
  replace(events: Timed[]): void {
    this.events = events;
    this.head = 0;
    this.full = false;
    this.given = events.length > 0;
  }

  /** Up to `n` of the oldest recorded, in order. */
  take(n: number): Timed[] {
    const out = this.events.slice(this.head, this.head + n);
    this.head += out.length;
    if (this.head === this.events.length) {
      this.events = [];
      this.head = 0;
      this.given = false;
    }
    return out;
  }

  /** Forgets every event recorded and the cap's refusal; returns how many were recorded. */
  forget(): number {
    const n = this.size;
    this.events = [];
    this.head = 0;
    this.full = false;
    this.given = false;
    return n;
  }
}
