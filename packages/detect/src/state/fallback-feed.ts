import type { SecurityEvent } from '@llmsec/core';
import type { DetectionEngine } from '../engine.ts';
import type { HeldBatch } from './held-batch.ts';
import type { SharedStats } from './shared-types.ts';

/**
 * The in-memory engine that detects while Redis is unreachable, as the shared engine feeds it:
 * the events of degraded episodes (counted in `degradedEvents`), and its event time, which must
 * not run ahead of events still queued for Redis, nor of a failed round's batch held for its
 * resend (`held`, HeldBatch): both go to it if Redis does not take them, and must not be late
 * there.
 */
export class FallbackFeed {
  readonly engine: DetectionEngine;
  private readonly stats: SharedStats;
  private readonly latenessMs: number;
  private readonly held: HeldBatch;
  /** The time given to the engine by moveTowards / caughtUp. */
  private at = Number.NEGATIVE_INFINITY;

  constructor(engine: DetectionEngine, stats: SharedStats, latenessMs: number, held: HeldBatch) {
    this.engine = engine;
    this.stats = stats;
    this.latenessMs = latenessMs;
    this.held = held;
  }

  ingest(event: SecurityEvent, t: number): void {
    this.passing(t);
    this.take(event, t);
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
   * an event still queued (the oldest at `oldestQueued()`, O(queued): read only when needed) or
   * held for a resend would be late there if Redis failed and it went to the fallback (late:
   * older than the fallback's time minus the lateness). Called between rounds only (no batch in
   * flight). Held until the queue drained (608d8df), the fallback stood still under steady
   * traffic, holding back what it buffered while degraded and its incidents' resolution.
   */
  moveTowards(declared: number, oldestQueued: () => number): void {
    if (!(declared > this.at)) return;
    const oldest = Math.min(oldestQueued(), this.held.oldest);
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
  ingestNotHeld(batch: readonly { t: number; event: SecurityEvent }[]): void {
    this.stats.heldToLocal += batch.length;
    for (const e of batch) this.take(e.event, e.t);
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
    for (const e of events) this.take(e.event, e.t);
  }

  private take(event: SecurityEvent, t: number): void {
    this.stats.degradedEvents++;
    // By id, as one process in memory: on a shared state the outer ingestOnce drops only exact
    // copies (copy-key.ts) and leaves repeats by id to the groups in Redis, which is not here.
    this.engine.ingestOnce(event, t);
  }
}
