import type { Alert, SecurityEvent } from '@llmsec/core';
import type { DetectionEngine } from './engine.ts';
import type { EngineStats } from './engine-options.ts';
import { addInnerStats } from './engine-stats.ts';
import { lifecycleOf } from './incident-lifecycle.ts';
import type { SharedEngine } from './state/shared-engine.ts';
import type { SharedMode } from './state/shared-mode.ts';

/**
 * What a DetectionEngine on a shared (Redis) state hands its calls on to: the shared engine
 * (data rules, through the flusher), the in-memory engine for code rules (if any), and the
 * in-memory fallback that detects while Redis is unreachable. The outer engine keeps the
 * clock, the watermark it reports and the sinks; everything else happens here.
 */
export class SharedModeEngines {
  private readonly shared: SharedEngine;
  private readonly fallback: DetectionEngine | undefined;
  private readonly codeLocal: DetectionEngine | undefined;
  private readonly releaseLease: () => Promise<void>;

  constructor(mode: SharedMode) {
    this.releaseLease = mode.releaseLease;
    this.shared = mode.shared;
    this.fallback = mode.fallback;
    this.codeLocal = mode.codeLocal;
  }

  ingest(event: SecurityEvent, t: number): void {
    this.shared.ingest(event, t);
    // By id, as one process in memory: the outer ingestOnce drops only exact copies on a shared
    // state (copy-key.ts), since Redis decides repeats per group, but code rules run here only.
    this.codeLocal?.ingestOnce(event, t);
  }

  advanceTo(timeMs: number): void {
    this.shared.advanceTo(timeMs);
    this.codeLocal?.advanceTo(timeMs);
  }

  /** The fleet's clock as last read (SharedEngine.fleetTime). */
  fleetTime(): number | undefined {
    return this.shared.fleetTime();
  }

  readFleetClock(): void {
    this.shared.readFleetClock();
  }

  /** Starts the final flush; await idle() (or shutdown()) for it to complete. */
  flush(): void {
    this.shared.flush();
    this.codeLocal?.flush();
  }

  /** Adds the inner engines' counts and the shared state's snapshot to the outer engine's stats. */
  addStats(stats: EngineStats): void {
    for (const inner of [this.fallback, this.codeLocal]) {
      if (inner !== undefined) addInnerStats(stats, inner.stats);
    }
    stats.state = this.shared.snapshot();
  }

  /**
   * Incidents live in Redis; this lists only those held in this process (code rules,
   * incidents opened while degraded, and this process's overflow incidents).
   */
  activeIncidents(): Alert[] {
    return [
      ...(this.fallback?.activeIncidents() ?? []),
      ...(this.codeLocal?.activeIncidents() ?? []),
      ...this.shared.overflowIncidents(),
    ];
  }

  /** The fleet's, read from Redis, then those held only here that Redis does not list (see DetectionEngine.openIncidents). */
  async openIncidents(): Promise<Alert[]> {
    const fleet = await this.shared.openIncidents();
    const ids = new Set(fleet.map((a) => a.alert_id));
    for (const alert of this.activeIncidents()) if (!ids.has(alert.alert_id)) fleet.push(alert);
    return fleet;
  }

  /**
   * The shared engine ships, waits for replicas stopping with it, then flushes (see there). A
   * process leaving the fleet (no end of input declared by flush()) resolves what only it holds:
   * its overflow incidents (the shared engine), and the incidents of its in-memory engines, code
   * rules and a degraded episode's, at the same time; those in Redis stay for the fleet.
   */
  async shutdown(): Promise<void> {
    this.codeLocal?.flush();
    const leftAt = await this.shared.shutdown();
    // A leaving holder of the adoption lease hands it on now, so another process re-sends the
    // fleet's open incidents at its next re-send instead of two intervals later. Best effort:
    // Redis down leaves the lease to expire.
    await this.releaseLease().catch(() => undefined);
    // Events taken while the shared engine waited (the grace): processed before the resolution,
    // or their incidents would open after it (a firing line with no resolved line).
    this.codeLocal?.flush();
    if (leftAt !== undefined) {
      for (const inner of [this.fallback, this.codeLocal]) {
        if (inner !== undefined) lifecycleOf(inner)?.resolveAll(leftAt);
      }
    }
    await Promise.all([this.fallback?.shutdown(), this.codeLocal?.shutdown()]);
  }

  /** Every event ingested so far has left the shared engine's queue (SharedEngine.shipped). */
  shipped(): Promise<void> {
    return this.shared.shipped();
  }

  /** Resolves once the flusher has shipped everything queued. */
  idle(): Promise<void> {
    return this.shared.idle();
  }
}
