import type { Meter } from '@opentelemetry/api';
import type { Alert, Clock } from '@llmsec/core';
import type { AlertSink } from './sinks/types.ts';
import type { RedisDetectionState } from './state/redis-state.ts';
import type { SharedStats } from './state/shared-engine.ts';
import type { AnyRule } from './types.ts';

export interface DetectionEngineOptions {
  /** Rules as data or code. @default the built-in rules (rules/default-rules.yaml, read as rules/default-rules.json) */
  rules?: AnyRule[];
  /**
   * How far behind the newest event time an event may arrive and still count, as if it had
   * arrived in order. Events are held this long (in event time) before rules see them, so it
   * is also the alerting delay. Later events are counted and dropped.
   * @default 5000
   */
  allowedLatenessMs?: number;
  /** Groups kept per group key (users, fingerprints); the least recently seen is evicted. @default 100000 */
  maxGroupsPerRule?: number;
  /** Events kept per group window; a flood keeps its newest. @default 1000 */
  maxEventsPerWindow?: number;
  /** Distinct values kept per group by cross-group rules, and users named per alert. @default 1000 */
  maxDistinctValues?: number;
  /** Events held for reordering; past it the oldest are released early. @default 100000 */
  maxBufferedEvents?: number;
  /**
   * Event ids remembered by `ingestOnce` to drop exact copies at once (an export sent again):
   * on a shared state this many; in memory at most 256 (the events compared against). Other
   * repeats of an id are dropped by the groups that hold it (see ingestOnce). @default 10000
   */
  dedupeCapacity?: number;
  /** Processing time, for `tick()`: event time is assumed to move with it while no events arrive. @default systemClock */
  clock?: Clock;
  /** When > 0, calls `tick()` on an unref'd timer every this many ms. @default 0 */
  tickIntervalMs?: number;
  /**
   * Live detection: an event stamped more than this ahead of `clock` is dropped (counted in
   * `droppedFuture`, `llmsec.detect.events.dropped{reason="future"}`). Event time only moves
   * forward: one event stamped years ahead (a sender's broken clock, a forged record) would
   * otherwise raise the watermark past every real event, which would all be dropped as late
   * until that time came. By default 1 h for a live engine (one with `tickIntervalMs` and the
   * system clock: event time is the wall clock's, as in a host feeding it from its spans and
   * logs, or the detector service), off otherwise, since event time is then the caller's (a
   * replay of old or generated logs, rule tests, a manual clock); Infinity turns it off. With a
   * shared state, the state's own `maxFutureSkewMs` applies instead.
   * @default 3600000 with tickIntervalMs > 0 and no clock given, else Infinity
   */
  maxFutureSkewMs?: number;
  /**
   * Open incidents per rule. At the cap no open incident is evicted for a new one, so invented
   * group keys can neither grow the incidents without bound nor push out one that exists; the
   * new incident opens in the overflow tier instead (see maxOverflowIncidentsPerRule), counted
   * in `incidentsRefused` (`llmsec.detect.incidents.refused`), one warning. With a shared state
   * the cap is the fleet's.
   * @default 10000
   */
  maxOpenIncidentsPerRule?: number;
  /**
   * Overflow incidents per rule, in this process: a rule at maxOpenIncidentsPerRule still
   * alerts. An incident its cap refuses opens here: the same firing line, sinks and
   * `alertsFired`; its group's events extend it; it resolves with a resolved line. When full,
   * the member quiet longest is resolved early (a resolved line, `overflowResolvedEarly`) to
   * make room, so a flood churns this tier but every incident fires and every fired incident
   * resolves (at the end of input, `flush()`, incidents within their quiet period stay firing
   * in both tiers, as at the end of a replay). Nothing moves between the tiers when an open
   * slot frees. With a shared state the tier is still per process (several processes may each
   * open one for a group: one alert in Alertmanager, which identifies alerts by their labels),
   * and a process leaving (`shutdown()` without a `flush()` first) resolves its members, since
   * no other process can. 0: the refused incident is only counted (no firing line).
   * @default 1000
   */
  maxOverflowIncidentsPerRule?: number;
  /**
   * Shared detection state: with `new RedisDetectionState({ redis })`, windows, baselines and
   * incidents live in Redis and N processes detect as one (see the README, "Shared state in
   * Redis"). Data rules only: code rules run in this process. @default in-memory state
   */
  state?: RedisDetectionState;
  /** Called for every firing and resolved alert (synchronously; must not block). */
  onAlert?: (alert: Alert) => void;
  /**
   * Called when an open incident gains users (its current state, status `firing`): not a new
   * firing line; sinks with `update` (Alertmanager) get it too.
   */
  onUpdate?: (alert: Alert) => void;
  sinks?: AlertSink[];
  /** @default metrics.getMeter('@llmsec/detect') */
  meter?: Meter;
}

export interface EngineStats {
  /** Events handed to ingest(). */
  ingested: number;
  /** Events the rules have seen (ingested minus dropped minus still buffered). */
  processed: number;
  droppedLate: number;
  /** Events without a usable timestamp. */
  droppedInvalid: number;
  /** Events stamped more than maxFutureSkewMs ahead of the clock (in-memory state). */
  droppedFuture: number;
  /**
   * Events `ingestOnce` took (not exact copies) whose id every group they reached already held,
   * so that no rule saw them (in-memory state; on a shared state, `state.duplicates`).
   */
  droppedRepeated: number;
  alertsFired: number;
  alertsResolved: number;
  /** Events held for reordering right now. */
  buffered: number;
  /** Groups evicted to stay under maxGroupsPerRule. */
  groupsEvicted: number;
  /**
   * Incidents refused a slot because their rule had maxOpenIncidentsPerRule open: each opened
   * in the overflow tier (and fired). With maxOverflowIncidentsPerRule 0, events whose rule
   * held with no incident open: not opened, no firing line.
   */
  incidentsRefused: number;
  /**
   * @deprecated The name of `incidentsRefused` before incidents past the cap went to the overflow
   * tier (issue 12 asked for an "evicted" counter; nothing open is evicted any more). Always equal
   * to `incidentsRefused`; kept so that readers of the old name keep counting.
   */
  incidentsEvicted: number;
  /**
   * Overflow incidents resolved before their quiet period ended: to make room in a full tier,
   * or, with a shared state, when the process left (`shutdown()` without a `flush()` first).
   */
  overflowResolvedEarly: number;
  /** The shared (Redis) state's counters, when the engine has one. */
  state?: SharedStats;
}
