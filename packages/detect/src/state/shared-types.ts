import type { Counter, Meter } from '@opentelemetry/api';
import type { Alert } from '@llmsec/core';
import type { DetectionEngine } from '../engine.ts';
import type { ErrorFunnel } from '../errors.ts';
import type { GroupLimits, RuleTable } from './group-runner.ts';
import type { Projector } from './projection.ts';
import type { RedisDetectionState } from './redis-state.ts';

/** Counters of the shared path (EngineStats.state). */
export interface SharedStats {
  /** 'shared' while Redis answers, 'degraded' while detection runs in this process only. */
  mode: 'shared' | 'degraded';
  /** Degraded episodes so far. */
  degradedEpisodes: number;
  /** Events handled by the local engine because Redis was unreachable. */
  degradedEvents: number;
  /**
   * Events of rounds Redis failed (a write may have landed with its reply lost), held while
   * degraded and shipped again once Redis answered, before anything newer: their groups drop
   * those they already hold, so each is counted once (HeldBatch).
   */
  resent: number;
  /**
   * Events of rounds Redis failed that went to the local engine instead of being resent: Redis
   * still down when holding them longer would have made them late there, the end of input or
   * shutdown while degraded, or more than 10,000 at once. Those whose write had landed are
   * counted twice (in Redis and locally). Also those of a resend late in every group they went
   * to (the fleet's clock had left them behind while this process was cut off: late-resend.ts).
   */
  heldToLocal: number;
  /**
   * Events the local engine took while a failed round's batch was held, given back unprocessed
   * and shipped to Redis after that batch once Redis answered (DegradedRecord): a user's events
   * of the failed round and of the degraded time after it count together there, not split
   * between Redis and this process.
   */
  degradedResent: number;
  /**
   * Events the local engine took while a failed round's batch was held that stayed local
   * although the batch was resent (split between Redis and this process, as before
   * DegradedRecord): processed or dropped there already, left behind by the fleet's clock by the
   * allowed lateness, or more than 10,000 in the episode.
   */
  degradedNotResent: number;
  /** Events dropped because the flush queue was full (oldest first). */
  queueDropped: number;
  /** Events another process (or this one) had already delivered to the group. */
  duplicates: number;
  /** Compare-and-set retries (another process wrote the group in between). */
  conflicts: number;
  /**
   * Incidents refused a slot because their rule had maxOpenIncidentsPerRule open across the
   * fleet: each opened (and fired) in this process's overflow tier, as in memory
   * (EngineStats.incidentsRefused); no open incident is evicted for a new one. With
   * maxOverflowIncidentsPerRule 0: events on which the rule held, not opened (no firing line).
   */
  incidentsRefused: number;
  /**
   * @deprecated The name of `incidentsRefused` before a full resolve index refused newcomers
   * instead of evicting open incidents (0dfdd80). Always equal to `incidentsRefused`; kept so
   * that readers of the old name keep counting (as EngineStats.incidentsEvicted).
   */
  indexEvicted: number;
  /**
   * Open incidents found missing from a full resolve index after a write and not put back (only
   * a replica of an earlier version, whose cap evicted entries, leaves such incidents).
   */
  unindexed: number;
  /**
   * Stored incidents dropped because their start or last time was not a time (NaN, Infinity, a
   * string: a bug in another replica, a manual edit); their group goes on without them.
   */
  incidentsDamaged: number;
  /** Events queued for the flusher right now. */
  queued: number;
  /** Events dropped for a time too far ahead of the wall clock (maxFutureSkewMs). */
  future: number;
}

/** The engine's counters the shared path adds to (EngineStats). */
export interface SharedCounts {
  processed: number;
  droppedLate: number;
  alertsFired: number;
  alertsResolved: number;
  incidentsRefused: number;
  overflowResolvedEarly: number;
}

export interface SharedEngineOptions {
  state: RedisDetectionState;
  ruleset: string;
  tables: RuleTable[];
  /** Per table: the projector of its pending events. */
  projectors: Projector[];
  latenessMs: number;
  limits: GroupLimits;
  /** Overflow incidents per rule in this process (maxOverflowIncidentsPerRule; 0: off). */
  maxOverflowPerRule: number;
  /** The in-memory engine (same data rules) that takes over while Redis is unreachable. */
  fallback: DetectionEngine;
  deliver: (alert: Alert) => void;
  /** An open incident gained users (see AlertSink.update). */
  update: (alert: Alert) => void;
  errors: ErrorFunnel;
  meter: Meter;
  counts: SharedCounts;
  /** llmsec.detect.events.dropped */
  droppedCounter: Counter;
  /** llmsec.detect.incidents.refused (by rule) */
  refusedCounter: Counter;
}
