import type { SecurityEvent } from '@llmsec/core';
import type { DetectionEngine } from '../engine.ts';
import { reorderBufferOf } from '../reorder-buffer.ts';
import type { DegradedRecord } from './degraded-record.ts';
import type { Held, HeldBatch } from './held-batch.ts';
import type { SharedStats } from './shared-types.ts';

/**
 * The in-memory engine that detects while Redis is unreachable, as the shared engine feeds it:
 * the events of degraded episodes (counted in `degradedEvents`), and its event time, which must
 * not run ahead of events still queued for Redis, nor of a failed round's batch held for its
 * resend (`held`, HeldBatch), nor of the degraded events it gave back for Redis (`record`,
 * DegradedRecord): all go to it if Redis does not take them, and must not be late there. While
 * a batch is held, the events it takes are recorded, so that those it has not processed yet go
 * to Redis after the held batch when Redis answers (reclaim).
 */
export class FallbackFeed {
  readonly engine: DetectionEngine;
  private readonly stats: SharedStats;
  private readonly latenessMs: number;
  private readonly held: HeldBatch;
  private readonly record: DegradedRecord;
  /** The time given to the engine by moveTowards / caughtUp. */
  private at = Number.NEGATIVE_INFINITY;

  constructor(
    engine: DetectionEngine,
    stats: SharedStats,
    latenessMs: number,
    held: HeldBatch,
    record: DegradedRecord,
  ) {
    this.engine = engine;
    this.stats = stats;
    this.latenessMs = latenessMs;
    this.held = held;
    this.record = record;
  }

  ingest(event: SecurityEvent, t: number): void {
    this.passing(t);
    this.take(event, t, false);
  }

  /**
   * An event this engine took before and gave back for Redis (reclaim), back after Redis failed
   * again before taking it: not through ingestOnce, whose ring of recent events holds it and
   * would drop it as a copy of itself.
   */
  readmit(event: SecurityEvent, t: number): void {
    this.passing(t);
    this.take(event, t, true);
  }

  /** Degraded: event time reached `t` (advanceTo). */
  advanceTo(t: number): void {
    this.passing(t);
    this.engine.advanceTo(t);
  }

  /** The end of input (or of this process) locally: what is held goes to the engine first. */
  flush(): void {
    this.release();
    this.engine.flush();
  }

  /**
   * Moves the engine's time towards what advanceTo declared (`declared`), but not so far that
   * an event still queued (the oldest at `oldestQueued()`, O(queued): read only when needed),
   * held for a resend or given back for Redis would be late there if Redis failed and it went
   * to the fallback (late: older than the fallback's time minus the lateness). Called between
   * rounds only (no batch in flight). Held until the queue drained (608d8df), the fallback stood
   * still under steady traffic, holding back what it buffered while degraded and its incidents'
   * resolution.
   */
  moveTowards(declared: number, oldestQueued: () => number): void {
    if (!(declared > this.at)) return;
    let oldest = Math.min(oldestQueued(), this.held.oldest);
    if (this.record.size > 0) oldest = Math.min(oldest, this.record.oldest);
    const to = Math.min(declared, oldest + this.latenessMs);
    if (!(to > this.at)) return;
    this.at = to;
    this.engine.advanceTo(to);
  }

  /** Redis failed and the queued events went to the engine: the time declared meanwhile applies now. */
  caughtUp(declared: number): void {
    if (Number.isFinite(declared)) {
      this.passing(declared);
      this.engine.advanceTo(declared);
    }
    if (declared > this.at) this.at = declared;
  }

  /** A batch Redis failed that cannot be held (HeldBatch's cap): to the engine now, as before the hold. */
  ingestNotHeld(batch: readonly Held[]): void {
    this.stats.heldToLocal += batch.length;
    // Nothing is held: the episode is local (DegradedRecord records only while a batch is).
    if (this.held.size === 0) this.record.forget();
    for (const e of batch) this.take(e.event, e.t, e.readmit === true);
  }

  /**
   * A resent batch's events late in every group they went to (splitLateResend): counted nowhere
   * in Redis, they come here as the held batch would have had Redis answered later
   * (heldToLocal). This engine's time waited for them while they were held (passing, moveTowards).
   */
  takeLateResend(events: readonly Held[]): void {
    this.stats.heldToLocal += events.length;
    for (const e of events) this.take(e.event, e.t, e.readmit === true);
  }

  /**
   * Redis answered (after the hand-back): the recorded events this engine has not processed yet
   * leave its reorder buffer and become the record, oldest first, for rounds after the held
   * batch's. Those it processed (or dropped) already stay here (`degradedNotResent`).
   */
  reclaim(): void {
    if (!this.record.started) return;
    const recorded = this.record.recorded();
    const back = reorderBufferOf(this.engine)?.remove(recorded) ?? [];
    this.stats.degradedNotResent += recorded.size - back.length;
    this.record.replace(back);
  }

  /**
   * The engine's time is about to reach `t`: what is held goes to it first if `t` would make the
   * oldest of it late there (Redis has not answered for the allowed lateness of event time).
   */
  private passing(t: number): void {
    if (this.held.size > 0 && t - this.latenessMs > this.held.oldest) this.release();
  }

  private release(): void {
    if (this.held.size === 0) return;
    const events = this.held.take();
    this.stats.heldToLocal += events.length;
    // The whole episode is local now (the held batch with what came after it): nothing is split.
    this.record.forget();
    for (const e of events) this.take(e.event, e.t, e.readmit === true);
  }

  private take(event: SecurityEvent, t: number, readmit: boolean): void {
    // Counted when first taken (a readmitted event was).
    if (!readmit) this.stats.degradedEvents++;
    // A batch is held for its resend: this event follows it to Redis if still unprocessed then.
    if (this.held.size > 0) this.stats.degradedNotResent += this.record.record({ t, event });
    // By id, as one process in memory: on a shared state the outer ingestOnce drops only exact
    // copies (copy-key.ts) and leaves repeats by id to the groups in Redis, which is not here.
    if (readmit) this.engine.ingest(event, t);
    else this.engine.ingestOnce(event, t);
  }
}
