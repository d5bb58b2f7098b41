import type { Timed } from './event-queue.ts';

/**
 * Events held at once at most: one round's batch (batchSize, 2,000 by default) fits. A batch
 * over it goes to the local engine at once, as before the hold existed (counted in heldToLocal).
 */
export const MAX_HELD_EVENTS = 10_000;

/**
 * A held event. `readmit`: the local engine took it before (DegradedRecord: given back for
 * Redis, whose round failed), so it goes back to it by ingest, not ingestOnce (FallbackFeed).
 */
export interface Held extends Timed {
  readmit?: boolean;
}

/**
 * The batch of a round Redis failed, held for a resend instead of handed to the local (fallback)
 * engine. A write whose reply came after the command timeout (or was lost with the connection)
 * may have landed: some of the batch's groups then hold its events. Handed to the fallback as
 * well, those events counted twice (in Redis and locally), so the fallback opened a second
 * incident on events the fleet had counted already. Held, they are shipped again when Redis
 * answers, before anything newer; a group holding them drops them as repeats (stepGroup's
 * `resent`), the others take them: each event is counted once, in Redis.
 *
 * They go to the local engine after all (FallbackFeed) when holding them longer would make them
 * late there (its time is about to pass the oldest of them by the allowed lateness: Redis stays
 * down), or when it flushes (the end of input, a final round that failed, shutdown): then, as
 * before, those whose write landed count twice.
 */
export class HeldBatch {
  private events: Held[] = [];
  private oldestT = Number.POSITIVE_INFINITY;

  get size(): number {
    return this.events.length;
  }

  /** Time of the oldest event held (+Infinity: none). */
  get oldest(): number {
    return this.oldestT;
  }

  /**
   * Holds `batch` (with what is already held, which is older: a failed resend). Returns false,
   * holding nothing, when that would be more than MAX_HELD_EVENTS.
   */
  hold(batch: readonly Held[]): boolean {
    if (batch.length === 0) return true;
    if (this.events.length + batch.length > MAX_HELD_EVENTS) return false;
    for (const e of batch) {
      this.events.push(e);
      if (e.t < this.oldestT) this.oldestT = e.t;
    }
    return true;
  }

  /** Everything held, oldest batch first; holds nothing after. */
  take(): Held[] {
    const all = this.events;
    this.events = [];
    this.oldestT = Number.POSITIVE_INFINITY;
    return all;
  }
}
