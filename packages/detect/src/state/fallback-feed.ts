import type { SecurityEvent } from '@llmsec/core';
import type { DetectionEngine } from '../engine.ts';
import type { SharedStats } from './shared-types.ts';

/**
 * The in-memory engine that detects while Redis is unreachable, as the shared engine feeds it:
 * the events of degraded episodes (counted in `degradedEvents`), and its event time, which must
 * not run ahead of events still queued for Redis (they go to it if Redis fails before they are
 * shipped, and must not be late there).
 */
export class FallbackFeed {
  readonly engine: DetectionEngine;
  private readonly stats: SharedStats;
  private readonly latenessMs: number;
  /** The time given to the engine by moveTowards / caughtUp. */
  private at = Number.NEGATIVE_INFINITY;

  constructor(engine: DetectionEngine, stats: SharedStats, latenessMs: number) {
    this.engine = engine;
    this.stats = stats;
    this.latenessMs = latenessMs;
  }

  ingest(event: SecurityEvent, t: number): void {
    this.stats.degradedEvents++;
    // By id, as one process in memory: on a shared state the outer ingestOnce drops only exact
    // copies (copy-key.ts) and leaves repeats by id to the groups in Redis, which is not here.
    this.engine.ingestOnce(event, t);
  }

  /**
   * Moves the engine's time towards what advanceTo declared (`declared`), but not so far that
   * an event still queued (the oldest at `oldestQueued()`, O(queued): read only when needed) would be late there if Redis failed and
   * it went to the fallback (late: older than the fallback's time minus the lateness). Called
   * between rounds only (no batch in flight). Held until the queue drained (608d8df), the
   * fallback stood still under steady traffic, holding back what it buffered while degraded and
   * its incidents' resolution.
   */
  moveTowards(declared: number, oldestQueued: () => number): void {
    if (!(declared > this.at)) return;
    const to = Math.min(declared, oldestQueued() + this.latenessMs);
    if (!(to > this.at)) return;
    this.at = to;
    this.engine.advanceTo(to);
  }

  /** Redis failed and the queued events went to the engine: the time declared meanwhile applies now. */
  caughtUp(declared: number): void {
    if (Number.isFinite(declared)) this.engine.advanceTo(declared);
    if (declared > this.at) this.at = declared;
  }
}
