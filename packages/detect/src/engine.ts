import { randomBytes } from 'node:crypto';
import { metrics, type Counter } from '@opentelemetry/api';
import { parseTimestamp, systemClock, type Alert, type Clock, type SecurityEvent } from '@llmsec/core';
import { AlertDispatch } from './alert-dispatch.ts';
import type { CompiledRule } from './compile.ts';
import { defaultRules } from './default-rules.ts';
import { buildDispatchTables, type Dispatch, type RuleRuntime } from './dispatch-table.ts';
import { copyKey } from './copy-key.ts';
import { createDroppedCounter, createRefusedCounter } from './engine-counters.ts';
import { internalSwitches } from './engine-internal-options.ts';
import { engineLimits, sharedModeLimits } from './engine-limits.ts';
import { compileEngineRules } from './engine-rules.ts';
import { zeroCounts, type EngineCounts } from './engine-stats.ts';
import { ErrorFunnel } from './errors.ts';
import { keyString } from './fields.ts';
import type { GroupPrefetch } from './group-prefetch.ts';
import type { GroupTable } from './group-table.ts';
import { idHash } from './id-hash.ts';
import { IncidentLifecycle, registerLifecycle } from './incident-lifecycle.ts';
import { RecentIds, VALUE_SPAN } from './recent-ids.ts';
import { registerReorderBuffer, ReorderBuffer } from './reorder-buffer.ts';
import { SharedModeEngines } from './shared-mode-engines.ts';
import { startSharedMode } from './state/shared-mode.ts';
import type { DetectionEngineOptions, EngineStats } from './engine-options.ts';

export type { DetectionEngineOptions, EngineStats } from './engine-options.ts';

export { OBJECT_STATE_ONLY } from './engine-internal-options.ts';

/**
 * The detection engine: rules over security events in event time, incrementally (O(1)
 * amortised per event per rule), with bounded memory and one alert per incident.
 */
export class DetectionEngine {
  private readonly runtimes: RuleRuntime[];
  private readonly byCategory: Map<string, Dispatch[]>;
  /**
   * The category looked up last and its dispatch list (undefined: no rule reads it). Decoded
   * category strings are not internalized, so a Map lookup hashes every one afresh; comparing
   * with the previous event's category is cheaper, and consecutive events mostly share one.
   */
  private lastCategory: string | undefined = undefined;
  private lastDispatch: Dispatch[] | undefined;
  private readonly tables: GroupTable[];
  private readonly buffer = new ReorderBuffer();
  /** Reads the groups of the buffer's next events ahead, a batch at a time (undefined: off). */
  private readonly prefetch: GroupPrefetch | undefined;
  private readonly recent: RecentIds;
  /** idHash's seed (per engine, crypto-random). */
  private readonly idSeed = randomBytes(4).readInt32LE(0);
  /** Numbers the events `process` runs, so a table checks an event's id once (GroupTable.heldSeq). */
  private processSeq = 0;
  private readonly lateness: number;
  private readonly maxBuffered: number;
  private readonly clock: Clock;
  /** Infinity: no check (see DetectionEngineOptions.maxFutureSkewMs). */
  private readonly maxFutureSkewMs: number;
  /** maxFutureSkewMs set: event time is bounded by the clock (admitLive). */
  private readonly live: boolean;
  /** The clock's last reading in admitLive / the buffer's overflow. */
  private clockRead = Number.NEGATIVE_INFINITY;
  private readonly alerts: AlertDispatch;
  /** Opening, the cap and overflow tier, resolving (in-memory mode). */
  private readonly incidents: IncidentLifecycle;
  private readonly droppedCounter: Counter;
  private readonly errors: ErrorFunnel;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  /** Shared (Redis) mode: the flusher, and an in-memory engine for code rules (if any). */
  private readonly shared: SharedModeEngines | undefined;
  private maxSeen = Number.NEGATIVE_INFINITY;
  /** The clock at the first tick of a replica that has ingested nothing yet (tickFromFleet). */
  private idleSince: number | undefined;
  /** When tickFromFleet reads the fleet's clock again while Redis holds none, and the gap to it. */
  private fleetReadAt = 0;
  private fleetReadGap = 0;
  private watermark = Number.NEGATIVE_INFINITY;
  private lastIngestClock: number | undefined;
  /** Whether ingest notes the processing time (only once ticking is in use: it costs a clock read). */
  private trackClock: boolean;
  private readonly counts: EngineCounts = zeroCounts();

  constructor(options: DetectionEngineOptions = {}) {
    const rules = options.rules ?? defaultRules();
    const limits = engineLimits(options);
    this.lateness = limits.allowedLatenessMs;
    this.maxBuffered = limits.maxBufferedEvents;
    this.clock = options.clock ?? systemClock;
    this.maxFutureSkewMs = futureSkew(options);
    this.live = this.maxFutureSkewMs < Infinity;
    const meter = options.meter ?? metrics.getMeter('@llmsec/detect');
    // In memory the ids are for the exact-copy check alone, which reads the last VALUE_SPAN
    // events (recent-ids.ts): more ids only made a copy of a recent event whose id was older
    // count (its id found with no event kept, nothing recorded), and cost a 128 KB table that
    // missed the CPU's caches (~4 % of a 60,000-user replay's engine thread). On a shared
    // state they are the copy keys of the last dedupeCapacity events.
    const remembered = Math.max(1, limits.dedupeCapacity);
    this.recent = new RecentIds(options.state !== undefined ? remembered : Math.min(remembered, VALUE_SPAN));

    const { objectStateOnly, prefetch, extendHeldElsewhere } = internalSwitches(options);
    this.prefetch = prefetch;
    const compiled = compileEngineRules(rules, limits, objectStateOnly);
    const layout = buildDispatchTables(compiled, limits, this.prefetch);
    this.runtimes = layout.runtimes;
    this.tables = layout.tables;
    this.byCategory = layout.byCategory;

    this.droppedCounter = createDroppedCounter(meter);
    this.errors = new ErrorFunnel(meter, 'detect');
    this.alerts = new AlertDispatch({
      meter,
      errors: this.errors,
      onAlert: options.onAlert,
      onUpdate: options.onUpdate,
      sinks: options.sinks ?? [],
    });
    // Series at 0 from the start (bounded: one per rule), see AlertDispatch.startAtZero.
    for (const rt of this.runtimes) this.alerts.startAtZero(rt.rule.id, rt.rule.severity);
    const refusedCounter = createRefusedCounter(meter);
    this.incidents = new IncidentLifecycle({
      runtimes: this.runtimes,
      alerts: this.alerts,
      counts: this.counts,
      refusedCounter,
      limits,
      wantsUpdates:
        options.onUpdate !== undefined ||
        (options.sinks ?? []).some((sink) => typeof sink.update === 'function'),
      extendHeldElsewhere,
    });
    registerLifecycle(this, this.incidents);
    registerReorderBuffer(this, this.buffer);

    if (options.state !== undefined) {
      this.shared = new SharedModeEngines(
        startSharedMode({
          state: options.state,
          rules,
          compiled: this.runtimes.map((rt) => rt.rule),
          limits: sharedModeLimits(limits),
          deliver: (alert) => this.alerts.deliver(alert),
          update: (alert) => this.alerts.update(alert),
          errors: this.errors,
          meter,
          counts: this.counts,
          droppedCounter: this.droppedCounter,
          refusedCounter,
          sinks: options.sinks ?? [],
          makeEngine: (inner) => new DetectionEngine(inner),
        }),
      );
    }
    this.trackClock = limits.tickIntervalMs > 0;
    if (limits.tickIntervalMs > 0) {
      this.timer = setInterval(() => this.tick(), limits.tickIntervalMs);
      this.timer.unref();
    }
  }

  /** The compiled rules, in order. */
  get rules(): readonly CompiledRule[] {
    return this.runtimes.map((r) => r.rule);
  }

  /**
   * Feeds one event. `timeMs` is its event time when the caller has parsed it already (the
   * JSONL reader has); otherwise the timestamp is parsed here. Never throws.
   */
  ingest(event: SecurityEvent, timeMs?: number): void {
    this.admit(event, timeMs, 0);
  }

  /**
   * ingest, with `h` the event's idHash when its groups are to drop a repeated id (in memory,
   * from ingestOnce), else 0.
   */
  private admit(event: SecurityEvent, timeMs: number | undefined, h: number): void {
    try {
      this.counts.ingested++;
      const t = timeMs ?? parseTimestamp(event.timestamp);
      if (Number.isNaN(t)) {
        this.counts.droppedInvalid++;
        this.droppedCounter.add(1, { reason: 'invalid' });
        return;
      }
      if (this.trackClock) this.lastIngestClock = this.clock.now();
      if (this.shared !== undefined) {
        if (t > this.maxSeen) this.maxSeen = t;
        this.shared.ingest(event, t);
        return;
      }
      if (t < this.watermark) {
        // A copy of an event its groups already counted (its span event after its log record,
        // past the exact-copy ring's 256 events) loses nothing: a repeat, not a late drop.
        if (h !== 0 && this.heldByItsGroups(event, h)) {
          this.counts.droppedRepeated++;
          return;
        }
        this.counts.droppedLate++;
        this.droppedCounter.add(1, { reason: 'late' });
        return;
      }
      if (this.live) {
        if (!this.admitLive(t)) return;
      } else if (t > this.maxSeen) {
        // Only past the newest time so far can an event raise the watermark.
        this.maxSeen = t;
        // Never lowered: a buffer overflow may have raised it past newest - lateness, and an
        // event older than one already processed must be late, not processed after it.
        if (t - this.lateness > this.watermark) this.watermark = t - this.lateness;
      }
      // Without lateness an event is processed at once, unless it is ahead of a live clock.
      if (this.lateness === 0 && t <= this.watermark && this.buffer.size === 0) {
        this.process(event, t, h);
        return;
      }
      this.buffer.insert(event, t, h);
      this.drain();
      // A burst inside the lateness would otherwise grow the buffer without bound.
      while (this.buffer.size > this.maxBuffered) {
        const oldest = this.buffer.peekTime();
        this.prefetch?.next(this.buffer);
        if (this.live && oldest > this.clockNow()) {
          // Ahead of the clock: taking it now would move event time past the clock (below).
          this.buffer.shift();
          this.counts.droppedFuture++;
          this.droppedCounter.add(1, { reason: 'future' });
          continue;
        }
        if (oldest > this.watermark) this.watermark = oldest;
        const oldestHash = this.buffer.peekHash();
        this.process(this.buffer.shift(), oldest, oldestHash);
      }
    } catch (err) {
      this.errors.report('ingest', err);
    }
  }

  /**
   * Live event time (maxFutureSkewMs set): an event more than maxFutureSkewMs ahead of the clock
   * is dropped (false), and no event moves the watermark past the clock: one stamped ahead of
   * it (within the bound) is held until the clock reaches it. Otherwise one sender's clock
   * running fast made every other sender's events late (6 s fast against 5 s of lateness: all
   * of them), and a record stamped just under the bound ahead, sent again each bound's worth
   * of time, made every real event late for good. The clock is read only for an event past
   * the last reading (events in order, as the old check read it past the newest event time).
   */
  private admitLive(t: number): boolean {
    let upTo = t;
    if (t > this.clockRead) {
      const now = this.clockNow();
      if (t > now + this.maxFutureSkewMs) {
        this.counts.droppedFuture++;
        this.droppedCounter.add(1, { reason: 'future' });
        return false;
      }
      if (t > now) upTo = now;
    }
    if (t > this.maxSeen) this.maxSeen = t;
    if (upTo - this.lateness > this.watermark) this.watermark = upTo - this.lateness;
    return true;
  }

  /** The clock, remembered as the last reading (admitLive compares with it before reading). */
  private clockNow(): number {
    return (this.clockRead = this.clock.now());
  }

  /**
   * Like ingest, but counts an event id once per group: for feeds that may deliver one event
   * twice (the span and log processors, the SDK's onEvent hook). In memory, an exact copy of one
   * of the last 256 events is dropped here (false); any other event whose id one of its groups
   * holds among its last 32 processed ids (group-ids.ts, the shared state's rule) is dropped in
   * that group only, counted in the others, when it is processed (`stats.droppedRepeated` once it
   * counted in none). On a shared state, exact copies among the last `dedupeCapacity` here, the
   * rest in the groups. Never throws.
   */
  ingestOnce(event: SecurityEvent, timeMs?: number): boolean {
    let h: number;
    try {
      if (this.shared !== undefined) {
        // Exact copies only: the state drops repeats per group (copy-key.ts).
        if (!this.recent.add(copyKey(event))) return false;
        this.ingest(event, timeMs);
        return true;
      }
      h = idHash(event.event_id, this.idSeed);
      // Its low 32 bits (a seeded lane of its own) serve the id table: one pass over the id.
      const slot = this.recent.addOrFind(event.event_id, event, h | 0);
      if (slot >= 0 && this.exactCopy(slot, event)) return false;
    } catch (err) {
      this.errors.report('ingestOnce', err);
      return false;
    }
    this.admit(event, timeMs, h);
    return true;
  }

  /**
   * Whether `event` is an exact copy of the event recorded first with its id (ring slot `slot`),
   * as copyKey tells one on a shared state: the same JSON text. Only for a repeated id (rare),
   * so the common event costs no serialisation; the earlier event's text is kept in its place
   * once made, so repeats of one large event cost their own length each, not its.
   */
  private exactCopy(slot: number, event: SecurityEvent): boolean {
    const earlier = this.recent.valueAt(slot);
    if (earlier === event) return true;
    // Older than the last VALUE_SPAN ids: not kept (recent-ids.ts); its groups decide.
    if (earlier === undefined) return false;
    let earlierText: string;
    if (typeof earlier === 'string') earlierText = earlier;
    else {
      earlierText = copyText(earlier);
      this.recent.setValueAt(slot, earlierText);
    }
    return copyText(event) === earlierText;
  }

  /**
   * Declares that event time has reached `timeMs` (no event older than `timeMs` minus the
   * allowed lateness will count): releases held events and resolves incidents whose quiet
   * period has passed.
   */
  advanceTo(timeMs: number): void {
    try {
      if (this.shared !== undefined) {
        if (timeMs > this.maxSeen) this.maxSeen = timeMs;
        this.shared.advanceTo(timeMs);
        return;
      }
      if (timeMs > this.maxSeen) {
        this.maxSeen = timeMs;
        // Never lowered (see ingest).
        if (timeMs - this.lateness > this.watermark) this.watermark = timeMs - this.lateness;
      }
      this.drain();
      if (this.watermark >= this.incidents.nextResolveAt)
        this.incidents.resolveDue(this.watermark, undefined);
    } catch (err) {
      this.errors.report('advanceTo', err);
    }
  }

  /** advanceTo without moving the newest event time: live event time reaching the clock. */
  private advanceWatermark(timeMs: number): void {
    if (timeMs - this.lateness > this.watermark) this.watermark = timeMs - this.lateness;
    this.drain();
    if (this.watermark >= this.incidents.nextResolveAt) this.incidents.resolveDue(this.watermark, undefined);
  }

  /**
   * End of input (the end of a replay, shutdown): every held event is processed, and
   * incidents whose quiet period has passed by the newest event time resolve. Incidents still
   * within their quiet period stay open (firing).
   */
  flush(): void {
    try {
      if (this.shared !== undefined) {
        // Starts the final flush; await forceFlush() (or shutdown()) for it to complete.
        this.shared.flush();
        return;
      }
      this.watermark = this.maxSeen;
      this.drain();
      if (this.maxSeen >= this.incidents.nextResolveAt) this.incidents.resolveDue(this.maxSeen, undefined);
    } catch (err) {
      this.errors.report('flush', err);
    }
  }

  /**
   * Lets event time move on with processing time while no events arrive, so that held events
   * are released and incidents resolve on a quiet system.
   */
  tick(): void {
    try {
      this.trackClock = true;
      const now = this.clock.now();
      if (this.lastIngestClock !== undefined && this.maxSeen > Number.NEGATIVE_INFINITY) {
        const idle = now - this.lastIngestClock;
        const to = this.maxSeen + idle;
        // Live event time stops at the clock (admitLive, the shared state's ship); events
        // ahead of it wait for it.
        if (idle > 0 && this.live && to > now) {
          if (this.shared === undefined) this.advanceWatermark(now);
          else this.advanceTo(now);
        } else if (idle > 0) this.advanceTo(to);
      } else if (this.shared !== undefined && this.live) this.tickFromFleet(now);
      this.lastIngestClock = now;
    } catch (err) {
      this.errors.report('tick', err);
    }
  }

  /**
   * A live replica on a shared state that has ingested nothing (just restarted, on a quiet
   * fleet) moves event time on from the fleet's clock: incidents the fleet left open in Redis
   * resolve when their quiet period has passed, as in the replica that opened them. Without
   * this it moved nothing until its first event, and the detector's Alertmanager adoption
   * re-sent such an incident as firing all that while. The first tick reads the clock.
   */
  private tickFromFleet(now: number): void {
    // Not before the allowed lateness has passed idle: the fleet's clock read earlier made a
    // replica starting with the fleet judge its first events late against exports the others
    // took first, so N replicas dropped events one process keeps (three replicas, three exports
    // in flight: test/scenarios-detector). A replica restarted on a quiet fleet resolves its
    // incidents that much later.
    this.idleSince ??= now;
    if (now - this.idleSince < this.lateness) return;
    const fleet = this.shared!.fleetTime();
    if (fleet === undefined) {
      // No clock yet: the first read, or a fresh fleet whose Redis holds none (no replica has
      // shipped an event, so no incident is open). Read again after a gap doubling from 1 s to
      // a minute, not at every tick: each read is a Redis round. A restarted replica finds the
      // clock at its first read; one appearing later is read within a minute.
      if (now < this.fleetReadAt) return;
      this.fleetReadGap = Math.min(
        Math.max(2 * this.fleetReadGap, FLEET_READ_MIN_GAP_MS),
        FLEET_READ_MAX_GAP_MS,
      );
      this.fleetReadAt = now + this.fleetReadGap;
      this.shared!.readFleetClock();
      return;
    }
    const idle = now - (this.lastIngestClock ?? now);
    if (idle > 0) this.advanceTo(fleet + idle > now ? now : fleet + idle);
  }

  get stats(): EngineStats {
    let evicted = 0;
    for (const table of this.tables) evicted += table.evicted;
    const stats: EngineStats = {
      ...this.counts,
      buffered: this.buffer.size,
      groupsEvicted: evicted,
      incidentsEvicted: 0,
    };
    this.shared?.addStats(stats);
    stats.incidentsEvicted = stats.incidentsRefused;
    return stats;
  }

  /** The newest event time seen, and the watermark (newest minus allowed lateness). */
  get time(): { maxSeen: number; watermark: number } {
    return { maxSeen: this.maxSeen, watermark: this.watermark };
  }

  /** Open incidents, as firing alerts. */
  activeIncidents(): Alert[] {
    // Shared mode: incidents live in Redis; this lists only those held in this process (code
    // rules, incidents opened while degraded, and this process's overflow incidents).
    if (this.shared !== undefined) return this.shared.activeIncidents();
    return this.incidents.active();
  }

  /**
   * Open incidents, as firing alerts, of every process sharing the state. In memory the same
   * as activeIncidents(). In shared mode the fleet's, read from Redis (the groups the resolve
   * index names: at most `maxOpenIncidentsPerRule` per rule), then those held only in this
   * process (code rules, incidents opened while degraded) that Redis does not list under the
   * same alert id (overflow incidents included). Rejects when Redis cannot be read (no partial
   * list passed off as the fleet's).
   */
  async openIncidents(): Promise<Alert[]> {
    if (this.shared === undefined) return this.activeIncidents();
    return this.shared.openIncidents();
  }

  /** Groups held, over all group keys. */
  get groupCount(): number {
    let n = 0;
    for (const table of this.tables) n += table.size;
    return n;
  }

  /**
   * Processes what is held, stops the timer, flushes and shuts down the sinks. Idempotent. In
   * memory the end of input (incidents within their quiet period stay firing, as after flush()).
   * With a shared state a process leaving the fleet: its incidents in Redis stay for the other
   * processes to resolve, and those no other process holds (its overflow tier's, its code
   * rules', a degraded episode's) are resolved (unless flush() declared the end of input first).
   */
  async shutdown(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.shared !== undefined) await this.shared.shutdown();
    else this.flush();
    await this.alerts.shutdown();
  }

  /**
   * With a shared state, resolves once every event ingested before the call is in Redis (or,
   * Redis failing, in the fallback engine): the detector service answers an export then, so a
   * sender awaiting each answer is ordered across replicas. Resolved at once in memory.
   */
  shipped(): Promise<void> {
    return this.shared !== undefined ? this.shared.shipped() : Promise.resolve();
  }

  /** Delivers what is queued: in shared mode, waits for the flusher to ship everything queued. */
  async forceFlush(): Promise<void> {
    if (this.shared !== undefined) await this.shared.idle();
    await this.alerts.forceFlush();
  }

  /**
   * Processes the held events the watermark has passed. Reads the watermark itself: a double
   * passed as an argument to a call V8 does not inline is boxed, an allocation per event.
   */
  private drain(): void {
    const upTo = this.watermark;
    const buffer = this.buffer;
    const prefetch = this.prefetch;
    for (let t = buffer.peekTime(); t <= upTo; t = buffer.peekTime()) {
      prefetch?.next(buffer);
      const h = buffer.peekHash();
      this.process(buffer.shift(), t, h);
    }
  }

  /**
   * Whether every group the event reaches holds its id `h` among its last processed ids (and it
   * reaches one): process() would drop it in each of them as a repeat. Only for an event too late
   * to be processed; reads only (no group created, no weight raised, no id recorded).
   */
  private heldByItsGroups(event: SecurityEvent, h: number): boolean {
    const list = this.byCategory.get(event.category);
    if (list === undefined) return false;
    let reached = false;
    for (let i = 0; i < list.length; i++) {
      const d = list[i]!;
      if (d.filter !== undefined && !d.filter(event)) continue;
      const key = keyString(d.groupKey(event));
      if (key === undefined) continue;
      const row = d.table.rowOf(key);
      if (row < 0 || !d.table.held.holds(row, h)) return false;
      reached = true;
    }
    return reached;
  }

  /**
   * The hot path: one event, in event-time order. `h` (its idHash, from ingestOnce; 0: none)
   * drops it in each group that already holds its id: the first rule of a table that takes the
   * event asks the group once (the shared state's group takes an event when one of its rules
   * does), the table's other rules reuse the answer.
   */
  private process(event: SecurityEvent, t: number, h: number): void {
    this.counts.processed++;
    const seq = ++this.processSeq;
    let repeated = false;
    let counted = false;
    const incidents = this.incidents;
    if (t >= incidents.nextResolveAt) incidents.resolveDue(t, event);
    const category = event.category;
    let list: Dispatch[] | undefined;
    if (category === this.lastCategory) list = this.lastDispatch;
    else {
      list = this.byCategory.get(category);
      this.lastCategory = category;
      this.lastDispatch = list;
    }
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) {
      const d = list[i]!;
      if (d.filter !== undefined && !d.filter(event)) continue;
      const key = keyString(d.groupKey(event));
      if (key === undefined) continue;
      const table = d.table;
      const g = table.touch(key, this.prefetch);
      if (h !== 0) {
        if (table.heldSeq !== seq) {
          table.heldSeq = seq;
          table.heldRepeat = table.held.repeat(g, h);
        }
        if (table.heldRepeat) {
          repeated = true;
          continue;
        }
        counted = true;
      }
      const slab = d.slab;
      if (slab !== undefined) {
        if (slab.update(table.slab!, g, event, t)) incidents.holds(d, g, key, undefined, event, t);
        continue;
      }
      const states = table.states[g] ?? table.stateRow(g);
      let state = states[d.slot];
      if (state === undefined) {
        state = d.condition.createState();
        states[d.slot] = state;
      }
      // `call` keeps the condition as `this` (code rules may use it) and is inlined as a direct call.
      if (d.update.call(d.condition, state, event, t)) incidents.holds(d, g, key, state, event, t);
    }
    if (repeated && !counted) {
      this.counts.processed--;
      this.counts.droppedRepeated++;
    }
  }
}

/** An event's text for the exact-copy check (copyKey's input; one it cannot write: the same for all). */
function copyText(event: unknown): string {
  try {
    return JSON.stringify(event);
  } catch {
    return '\u0000';
  }
}

/**
 * maxFutureSkewMs checked: a non-negative number (Infinity: no check). Unset, it is
 * LIVE_MAX_FUTURE_SKEW_MS for an engine that ticks on its own timer by the system clock (that
 * engine reads event time as the wall clock's: live detection in a host, as the span and log
 * processors feed it) and off otherwise (replays, rule tests, a caller's clock).
 */
function futureSkew(options: DetectionEngineOptions): number {
  const value = options.maxFutureSkewMs;
  if (value === undefined) {
    const live = options.clock === undefined && (options.tickIntervalMs ?? 0) > 0;
    return live ? LIVE_MAX_FUTURE_SKEW_MS : Number.POSITIVE_INFINITY;
  }
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new RangeError(
      `DetectionEngine: maxFutureSkewMs must be a non-negative number (got ${String(value)})`,
    );
  }
  return value;
}

/** The default maxFutureSkewMs of a live engine (1 h: the Redis state's and the detector's). */
const LIVE_MAX_FUTURE_SKEW_MS = 3_600_000;
/** Gaps between an idle replica's reads of a fleet clock Redis does not hold yet (tickFromFleet). */
const FLEET_READ_MIN_GAP_MS = 1_000;
const FLEET_READ_MAX_GAP_MS = 60_000;
