import type { EngineStats } from './engine-options.ts';

/**
 * Adds an inner engine's counts (shared mode: the degraded fallback's, the code rules') to the
 * outer engine's. Not `ingested` nor `droppedInvalid`: the outer engine counted those events
 * itself before handing them on.
 */
export function addInnerStats(into: EngineStats, inner: EngineStats): void {
  into.processed += inner.processed;
  into.droppedLate += inner.droppedLate;
  into.droppedFuture += inner.droppedFuture;
  into.droppedRepeated += inner.droppedRepeated;
  into.alertsFired += inner.alertsFired;
  into.alertsResolved += inner.alertsResolved;
  into.buffered += inner.buffered;
  into.groupsEvicted += inner.groupsEvicted;
  into.incidentsRefused += inner.incidentsRefused;
  into.overflowResolvedEarly += inner.overflowResolvedEarly;
}

/** The engine's own counters (shared with its incident lifecycle and, in shared mode, the flusher). */
export interface EngineCounts {
  ingested: number;
  processed: number;
  droppedLate: number;
  droppedInvalid: number;
  droppedFuture: number;
  droppedRepeated: number;
  alertsFired: number;
  alertsResolved: number;
  incidentsRefused: number;
  overflowResolvedEarly: number;
}

export function zeroCounts(): EngineCounts {
  return {
    ingested: 0,
    processed: 0,
    droppedLate: 0,
    droppedInvalid: 0,
    droppedFuture: 0,
    droppedRepeated: 0,
    alertsFired: 0,
    alertsResolved: 0,
    incidentsRefused: 0,
    overflowResolvedEarly: 0,
  };
}
