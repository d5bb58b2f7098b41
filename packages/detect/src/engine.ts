import { diag, metrics, type Counter } from '@opentelemetry/api';
import {
  METRIC_DETECT_DROPPED,
  METRIC_DETECT_INCIDENTS_REFUSED,
  parseTimestamp,
  systemClock,
  type Alert,
  type Clock,
  type SecurityEvent,
} from '@llmsec/core';
import { AlertDispatch } from './alert-dispatch.ts';
import { compileRule, type CompiledRule } from './compile.ts';
import { defaultRules } from './default-rules.ts';
import { ErrorFunnel } from './errors.ts';
import { keyString } from './fields.ts';
import { GroupPrefetch, NO_PREFETCH, PREFETCH_ALWAYS } from './group-prefetch.ts';
import { GroupTable } from './group-table.ts';
import { openIncident } from './incident.ts';
import { OpenIncidents } from './open-incidents.ts';
import { OverflowIncidents } from './overflow-incidents.ts';
import { RecentIds } from './recent-ids.ts';
import { ReorderBuffer } from './reorder-buffer.ts';
import type { SlabRule } from './slab/slab-rule.ts';
import { slabRulesFor } from './slab/slab-rules.ts';
import type { SharedEngine } from './state/shared-engine.ts';
import { startSharedMode } from './state/shared-mode.ts';
import type { DetectionEngineOptions, EngineStats } from './engine-options.ts';

export type { DetectionEngineOptions, EngineStats } from './engine-options.ts';

/**
 * Internal option (not part of the public API): every rule keeps object states, as before
 * the slab. The differential tests and the benchmark's in-run baseline use it.
 */
export const OBJECT_STATE_ONLY: unique symbol = Symbol('llmsec.detect.objectStateOnly');

interface InternalOptions extends DetectionEngineOptions {
  [OBJECT_STATE_ONLY]?: boolean;
  [NO_PREFETCH]?: boolean;
  [PREFETCH_ALWAYS]?: boolean;
}

interface RuleRuntime {
  rule: CompiledRule;
  table: GroupTable;
  /** Open incidents by group key, in order of lastTrueAt. */
  open: OpenIncidents;
  /** Incidents opened while `open` was at maxOpenIncidentsPerRule (see OverflowIncidents). */
  overflow: OverflowIncidents;
}

/**
 * One rule as the hot path calls it, for one category: everything `process` reads, in one
 * object of one shape, so each load is monomorphic (the condition objects come in many
 * shapes, and loading `update` from them would not be).
 */
interface Dispatch {
  rt: RuleRuntime;
  /** The rule's slot in its table's object-state rows (states[g * width + slot]); -1 for a slab rule. */
  slot: number;
  /** Object-state slots per row of the rule's table. */
  width: number;
  /** The rule's slab implementation, when its state lives in the table's slab instead. */
  slab: SlabRule | undefined;
  filter: ((event: SecurityEvent) => boolean) | undefined;
  groupKey: (event: SecurityEvent) => unknown;
  table: GroupTable;
  condition: CompiledRule['condition'];
  update: CompiledRule['condition']['update'];
}

/**
 * The detection engine: rules over security events in event time, incrementally (O(1)
 * amortised per event per rule), with bounded memory and one alert per incident.
 */
export class DetectionEngine {
  private readonly runtimes: RuleRuntime[];
  private readonly byCategory = new Map<string, Dispatch[]>();
  /**
   * The category looked up last and its dispatch list (undefined: no rule reads it). Decoded
   * category strings are not internalized, so a Map lookup hashes every one afresh; comparing
   * with the previous event's category is cheaper, and consecutive events mostly share one.
   */
  private lastCategory: string | undefined = undefined;
  private lastDispatch: Dispatch[] | undefined;
  private readonly tables: GroupTable[] = [];
  private readonly buffer = new ReorderBuffer();
  /** Reads the groups of the buffer's next events ahead, a batch at a time (undefined: off). */
  private readonly prefetch: GroupPrefetch | undefined;
  private readonly recent: RecentIds;
  private readonly lateness: number;
  private readonly maxBuffered: number;
  private readonly maxUsersPerAlert: number;
  private readonly clock: Clock;
  private readonly alerts: AlertDispatch;
  /** Whether anyone takes updates of open incidents (onUpdate, or a sink with `update`). */
  private readonly wantsUpdates: boolean;
  private readonly droppedCounter: Counter;
  private readonly errors: ErrorFunnel;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private readonly maxOpenPerRule: number;
  private readonly maxOverflowPerRule: number;
  private readonly incidentsRefusedCounter: Counter;
  private warnedRefused = false;
  /** Shared (Redis) mode: the flusher, and an in-memory engine for code rules (if any). */
  private readonly shared: SharedEngine | undefined;
  private readonly codeLocal: DetectionEngine | undefined;
  private readonly fallback: DetectionEngine | undefined;
  private maxSeen = Number.NEGATIVE_INFINITY;
  private watermark = Number.NEGATIVE_INFINITY;
  private nextResolveAt = Number.POSITIVE_INFINITY;
  private lastIngestClock: number | undefined;
  /** Whether ingest notes the processing time (only once ticking is in use: it costs a clock read). */
  private trackClock: boolean;
  private readonly counts = {
    ingested: 0,
    processed: 0,
    droppedLate: 0,
    droppedInvalid: 0,
    alertsFired: 0,
    alertsResolved: 0,
    incidentsRefused: 0,
    overflowResolvedEarly: 0,
  };

  constructor(options: DetectionEngineOptions = {}) {
    const rules = options.rules ?? defaultRules();
    this.lateness = options.allowedLatenessMs ?? 5_000;
    const maxGroups = options.maxGroupsPerRule ?? 100_000;
    const maxEventsPerWindow = options.maxEventsPerWindow ?? 1_000;
    const maxDistinctValues = options.maxDistinctValues ?? 1_000;
    this.maxBuffered = options.maxBufferedEvents ?? 100_000;
    this.maxUsersPerAlert = maxDistinctValues;
    this.clock = options.clock ?? systemClock;
    const meter = options.meter ?? metrics.getMeter('@llmsec/detect');
    const tickIntervalMs = options.tickIntervalMs ?? 0;
    const dedupeCapacity = options.dedupeCapacity ?? 10_000;
    this.maxOpenPerRule = options.maxOpenIncidentsPerRule ?? 10_000;
    this.maxOverflowPerRule = options.maxOverflowIncidentsPerRule ?? 1_000;

    for (const [name, value] of Object.entries({
      allowedLatenessMs: this.lateness,
      maxGroupsPerRule: maxGroups,
      maxEventsPerWindow,
      maxDistinctValues,
      maxBufferedEvents: this.maxBuffered,
      tickIntervalMs,
      dedupeCapacity,
      maxOpenIncidentsPerRule: this.maxOpenPerRule,
      maxOverflowIncidentsPerRule: this.maxOverflowPerRule,
    })) {
      if (!Number.isFinite(value) || value < 0)
        throw new Error(`DetectionEngine: ${name} must be a finite number >= 0, got ${value}`);
    }
    this.recent = new RecentIds(Math.max(1, dedupeCapacity));
    if (maxGroups < 1) throw new Error('DetectionEngine: maxGroupsPerRule must be at least 1');

    const ids = new Set<string>();
    const limits = { maxEventsPerWindow, maxDistinctValues };
    const objectOnly = (options as InternalOptions)[OBJECT_STATE_ONLY] === true;
    const entries = rules.map((def, index) => {
      if (ids.has(def.id)) throw new Error(`DetectionEngine: duplicate rule id "${def.id}"`);
      ids.add(def.id);
      if (!(def.window_ms > 0)) throw new Error(`DetectionEngine: rule "${def.id}": window must be positive`);
      return { def, rule: compileRule(def, index, limits) };
    });
    const slabs = objectOnly ? [] : slabRulesFor(entries, limits);
    const internal = options as InternalOptions;
    const prefetch =
      internal[NO_PREFETCH] === true
        ? undefined
        : new GroupPrefetch(internal[PREFETCH_ALWAYS] === true ? 0 : undefined);
    this.prefetch = prefetch;
    const compiled = entries.map(({ rule }, i) => ({ rule, slab: slabs[i] }));
    // One table per group key: a slot per object-state rule in its rows, a region per slab rule.
    const tablesByField = new Map<string, { slots: number; slabRules: SlabRule[]; table?: GroupTable }>();
    const slots = compiled.map(({ rule, slab }) => {
      let entry = tablesByField.get(rule.groupBy);
      if (entry === undefined) {
        entry = { slots: 0, slabRules: [] };
        tablesByField.set(rule.groupBy, entry);
      }
      if (slab !== undefined) {
        entry.slabRules.push(slab);
        return -1;
      }
      return entry.slots++;
    });
    this.runtimes = compiled.map(({ rule, slab }, i) => {
      const entry = tablesByField.get(rule.groupBy)!;
      let table = entry.table;
      if (table === undefined) {
        table = new GroupTable(rule.groupBy, maxGroups, entry.slots, entry.slabRules);
        entry.table = table;
        this.tables.push(table);
      }
      const runtime: RuleRuntime = {
        rule,
        table,
        open: new OpenIncidents(),
        overflow: new OverflowIncidents(this.maxOverflowPerRule),
      };
      const dispatch: Dispatch = {
        rt: runtime,
        slot: slots[i]!,
        width: entry.slots,
        slab,
        filter: rule.filter,
        groupKey: rule.groupKey,
        table,
        condition: rule.condition,
        update: rule.condition.update,
      };
      for (const category of rule.categories) {
        prefetch?.add(category, table, rule.groupBy, rule.groupKey, dispatch.slot);
        const list = this.byCategory.get(category);
        if (list === undefined) this.byCategory.set(category, [dispatch]);
        else list.push(dispatch);
      }
      return runtime;
    });

    this.droppedCounter = meter.createCounter(METRIC_DETECT_DROPPED, {
      description: 'Security events the detection engine dropped, by reason',
    });
    this.errors = new ErrorFunnel(meter, 'detect');
    this.wantsUpdates =
      options.onUpdate !== undefined ||
      (options.sinks ?? []).some((sink) => typeof sink.update === 'function');
    this.alerts = new AlertDispatch({
      meter,
      errors: this.errors,
      onAlert: options.onAlert,
      onUpdate: options.onUpdate,
      sinks: options.sinks ?? [],
    });
    // Series at 0 from the start (bounded: rules and two reasons), see AlertDispatch.startAtZero.
    for (const rt of this.runtimes) this.alerts.startAtZero(rt.rule.id, rt.rule.severity);
    this.droppedCounter.add(0, { reason: 'late' });
    this.droppedCounter.add(0, { reason: 'invalid' });
    this.incidentsRefusedCounter = meter.createCounter(METRIC_DETECT_INCIDENTS_REFUSED, {
      description:
        'Incidents refused a slot because their rule had maxOpenIncidentsPerRule open: opened (and fired) in the ' +
        'process-local overflow tier instead, none evicted (with maxOverflowIncidentsPerRule 0: not opened)',
    });
    this.incidentsRefusedCounter.add(0);

    if (options.state !== undefined) {
      const mode = startSharedMode({
        state: options.state,
        rules,
        compiled: this.runtimes.map((rt) => rt.rule),
        limits: {
          allowedLatenessMs: this.lateness,
          maxGroupsPerRule: maxGroups,
          maxEventsPerWindow,
          maxDistinctValues,
          maxBufferedEvents: this.maxBuffered,
          maxOpenIncidentsPerRule: this.maxOpenPerRule,
          maxOverflowIncidentsPerRule: this.maxOverflowPerRule,
        },
        deliver: (alert) => this.alerts.deliver(alert),
        update: (alert) => this.alerts.update(alert),
        errors: this.errors,
        meter,
        counts: this.counts,
        droppedCounter: this.droppedCounter,
        refusedCounter: this.incidentsRefusedCounter,
        makeEngine: (inner) => new DetectionEngine(inner),
      });
      this.shared = mode.shared;
      this.fallback = mode.fallback;
      this.codeLocal = mode.codeLocal;
    }
    this.trackClock = tickIntervalMs > 0;
    if (tickIntervalMs > 0) {
      this.timer = setInterval(() => this.tick(), tickIntervalMs);
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
        this.codeLocal?.ingest(event, t);
        return;
      }
      if (t < this.watermark) {
        this.counts.droppedLate++;
        this.droppedCounter.add(1, { reason: 'late' });
        return;
      }
      if (t > this.maxSeen) {
        this.maxSeen = t;
        // Never lowered: a buffer overflow may have raised it past newest - lateness, and an
        // event older than one already processed must be late, not processed after it.
        if (t - this.lateness > this.watermark) this.watermark = t - this.lateness;
      }
      if (this.lateness === 0) {
        this.process(event, t);
        return;
      }
      this.buffer.insert(event, t);
      this.drain();
      // A burst inside the lateness would otherwise grow the buffer without bound.
      while (this.buffer.size > this.maxBuffered) {
        const oldest = this.buffer.peekTime();
        if (oldest > this.watermark) this.watermark = oldest;
        this.prefetch?.next(this.buffer);
        this.process(this.buffer.shift(), oldest);
      }
    } catch (err) {
      this.errors.report('ingest', err);
    }
  }

  /**
   * Like ingest, but drops an event whose id was seen recently: for feeds that may deliver one
   * event twice (the span and log processors, the SDK's onEvent hook). Returns false for a
   * duplicate. Never throws.
   */
  ingestOnce(event: SecurityEvent, timeMs?: number): boolean {
    try {
      if (!this.recent.add(event.event_id)) return false;
    } catch (err) {
      this.errors.report('ingestOnce', err);
      return false;
    }
    this.ingest(event, timeMs);
    return true;
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
        this.codeLocal?.advanceTo(timeMs);
        return;
      }
      if (timeMs > this.maxSeen) {
        this.maxSeen = timeMs;
        // Never lowered (see ingest).
        if (timeMs - this.lateness > this.watermark) this.watermark = timeMs - this.lateness;
      }
      this.drain();
      if (this.watermark >= this.nextResolveAt) this.resolveDue(this.watermark, undefined);
    } catch (err) {
      this.errors.report('advanceTo', err);
    }
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
        this.codeLocal?.flush();
        return;
      }
      this.watermark = this.maxSeen;
      this.drain();
      if (this.maxSeen >= this.nextResolveAt) this.resolveDue(this.maxSeen, undefined);
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
        if (idle > 0) this.advanceTo(this.maxSeen + idle);
      }
      this.lastIngestClock = now;
    } catch (err) {
      this.errors.report('tick', err);
    }
  }

  get stats(): EngineStats {
    let evicted = 0;
    for (const table of this.tables) evicted += table.evicted;
    const stats: EngineStats = { ...this.counts, buffered: this.buffer.size, groupsEvicted: evicted };
    if (this.shared !== undefined) {
      for (const inner of [this.fallback, this.codeLocal]) {
        if (inner === undefined) continue;
        const s = inner.stats;
        stats.processed += s.processed;
        stats.droppedLate += s.droppedLate;
        stats.alertsFired += s.alertsFired;
        stats.alertsResolved += s.alertsResolved;
        stats.buffered += s.buffered;
        stats.groupsEvicted += s.groupsEvicted;
        stats.incidentsRefused += s.incidentsRefused;
        stats.overflowResolvedEarly += s.overflowResolvedEarly;
      }
      stats.state = this.shared.snapshot();
    }
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
    if (this.shared !== undefined) {
      return [
        ...(this.fallback?.activeIncidents() ?? []),
        ...(this.codeLocal?.activeIncidents() ?? []),
        ...this.shared.overflowIncidents(),
      ];
    }
    const out: Alert[] = [];
    for (const rt of this.runtimes) {
      for (const inc of rt.open.values()) out.push(inc.toAlert('firing', undefined));
      for (const inc of rt.overflow.values()) out.push(inc.toAlert('firing', undefined));
    }
    return out;
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
    const fleet = await this.shared.openIncidents();
    const ids = new Set(fleet.map((a) => a.alert_id));
    for (const alert of this.activeIncidents()) if (!ids.has(alert.alert_id)) fleet.push(alert);
    return fleet;
  }

  /** Groups held, over all group keys. */
  get groupCount(): number {
    let n = 0;
    for (const table of this.tables) n += table.size;
    return n;
  }

  /** Processes what is held, stops the timer, flushes and shuts down the sinks. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.shared !== undefined) {
      // The shared engine ships, waits for replicas stopping with it, then flushes (see there).
      this.codeLocal?.flush();
      await this.shared.shutdown();
      await Promise.all([this.fallback?.shutdown(), this.codeLocal?.shutdown()]);
    } else {
      this.flush();
    }
    await this.alerts.shutdown();
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
      this.process(buffer.shift(), t);
    }
  }

  /** The hot path: one event, in event-time order. */
  private process(event: SecurityEvent, t: number): void {
    this.counts.processed++;
    if (t >= this.nextResolveAt) this.resolveDue(t, event);
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
      const g = table.touch(key);
      const slab = d.slab;
      if (slab !== undefined) {
        if (slab.update(table.slab!, g, event, t)) this.holds(d, g, key, undefined, event, t);
        continue;
      }
      const at = g * d.width + d.slot;
      let state = table.states[at];
      if (state === undefined) {
        state = d.condition.createState();
        table.states[at] = state;
      }
      // `call` keeps the condition as `this` (code rules may use it) and is inlined as a direct call.
      if (d.update.call(d.condition, state, event, t)) this.holds(d, g, key, state, event, t);
    }
  }

  /** The rule of `d` holds for group `key` (row g): `state` is its object state, undefined for a slab rule. */
  private holds(d: Dispatch, g: number, key: string, state: unknown, event: SecurityEvent, t: number): void {
    const rt = d.rt;
    // An overflow incident of the group is extended like an open one (read only while the
    // overflow tier holds any: the hot path pays one size check).
    const overflowed = rt.overflow.size > 0 ? rt.overflow.get(key) : undefined;
    const existing = overflowed ?? rt.open.get(key);
    if (existing !== undefined) {
      // Extended, not re-announced; moved to the newest end so rt.open stays in lastTrueAt order.
      existing.lastTrueAt = t;
      existing.addEvidence(event.event_id, event.trace_id);
      // A user joining an open incident (the campaign's sixth account) reaches onUpdate and the
      // sinks that re-send firing alerts; no new firing line. The alert is built only when
      // someone takes it: it lists up to maxDistinctValues users, and a campaign adds them one
      // by one (without a taker, 170 bytes of garbage per event in bench/detect's mix).
      if (existing.addUser(event.user_id) && this.wantsUpdates)
        this.alerts.update(existing.toAlert('firing', event));
      if (overflowed !== undefined) rt.overflow.extended(existing);
      else rt.open.extended(existing);
      return;
    }
    // At the cap no open incident is evicted: ids an attacker invents (each needs the rule to
    // fire) cannot push out what protects against them. The newcomer still alerts, from the
    // overflow tier (unless it is off: then only counted).
    const atCap = rt.open.size >= this.maxOpenPerRule;
    if (atCap && this.maxOverflowPerRule === 0) return this.refused(rt);
    // A slab rule's state as the object condition's, for its describe and evidence (only here: rare).
    const objectState = d.slab !== undefined ? d.slab.state(d.table.slab!, g, event) : state;
    const incident = openIncident(rt.rule, key, objectState, event, t, this.maxUsersPerAlert);
    if (atCap) {
      this.refused(rt);
      const early = rt.overflow.add(incident);
      if (early !== undefined) {
        // Resolved now, before its quiet period ended: it ends at this event's time.
        this.counts.overflowResolvedEarly++;
        this.counts.alertsResolved++;
        this.alerts.deliver(early.toAlert('resolved', event, t));
      }
    } else rt.open.add(incident);
    if (incident.resolveAt < this.nextResolveAt) this.nextResolveAt = incident.resolveAt;
    this.counts.alertsFired++;
    this.alerts.deliver(incident.toAlert('firing', event));
  }

  /** The rule held for a group, but the rule has maxOpenIncidentsPerRule open: counted (once per overflow incident). */
  private refused(rt: RuleRuntime): void {
    this.counts.incidentsRefused++;
    this.incidentsRefusedCounter.add(1, { rule: rt.rule.id });
    if (this.warnedRefused) return;
    this.warnedRefused = true;
    diag.warn(
      `llmsec detect: rule ${rt.rule.id} has maxOpenIncidentsPerRule (${this.maxOpenPerRule}) incidents open: ` +
        (this.maxOverflowPerRule > 0
          ? `its new incidents open in the process-local overflow tier (at most ${this.maxOverflowPerRule}, ` +
            'the quiet-longest resolved early) until some resolve'
          : 'its new incidents are refused (not opened, no firing line) until some resolve') +
        ' (llmsec.detect.incidents.refused)',
    );
  }

  /**
   * Resolves every incident whose quiet period ended at or before `t`. Each rule's open map is
   * in lastTrueAt order and the quiet period is per rule, so the scan stops at the first
   * incident not yet due.
   */
  private resolveDue(t: number, trigger: SecurityEvent | undefined): void {
    let next = Number.POSITIVE_INFINITY;
    for (const rt of this.runtimes) {
      // Each tier on its own (no array of the two per rule and call: this runs on every event
      // past a resolve time).
      if (rt.open.size > 0) next = this.resolveList(rt.open, t, trigger, next);
      if (rt.overflow.size > 0) next = this.resolveList(rt.overflow, t, trigger, next);
    }
    this.nextResolveAt = next;
  }

  /** resolveDue for one tier of one rule: returns min(next, its first resolve time after t). */
  private resolveList(
    list: OpenIncidents | OverflowIncidents,
    t: number,
    trigger: SecurityEvent | undefined,
    next: number,
  ): number {
    for (let incident = list.first(); incident !== undefined; incident = list.first()) {
      const at = incident.resolveAt;
      if (at > t) return at < next ? at : next;
      list.remove(incident);
      this.counts.alertsResolved++;
      this.alerts.deliver(incident.toAlert('resolved', trigger));
    }
    return next;
  }
}
