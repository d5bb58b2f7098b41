import { diag, type Counter, type Meter } from '@opentelemetry/api';
import type { Alert, SecurityEvent } from '@llmsec/core';
import type { ErrorFunnel } from '../errors.ts';
import { keyString } from '../fields.ts';
import type { DetectionEngine } from '../engine.ts';
import {
  decodeBody,
  emptyBody,
  encodeBody,
  stepGroup,
  type GroupBody,
  type GroupLimits,
  type RuleTable,
} from './group-runner.ts';
import type { Projector } from './projection.ts';
import { fleetIncidents } from './fleet-incidents.ts';
import { splitVersion, type RedisDetectionState } from './redis-state.ts';
import { untraced } from '@llmsec/core/internal';

/** Counters of the shared path (EngineStats.state). */
export interface SharedStats {
  /** 'shared' while Redis answers, 'degraded' while detection runs in this process only. */
  mode: 'shared' | 'degraded';
  /** Degraded episodes so far. */
  degradedEpisodes: number;
  /** Events handled by the local engine because Redis was unreachable. */
  degradedEvents: number;
  /** Events dropped because the flush queue was full (oldest first). */
  queueDropped: number;
  /** Events another process (or this one) had already delivered to the group. */
  duplicates: number;
  /** Compare-and-set retries (another process wrote the group in between). */
  conflicts: number;
  /**
   * Events whose rule held for a group with no open incident while the rule already had
   * maxOpenIncidentsPerRule open across the fleet: the incident was not opened (no firing line),
   * as in memory (EngineStats.incidentsRefused); no open incident is evicted for a new one.
   */
  incidentsRefused: number;
  /**
   * Open incidents found missing from a full resolve index after a write and not put back (only
   * a replica of an earlier version, whose cap evicted entries, leaves such incidents).
   */
  unindexed: number;
  /** Events queued for the flusher right now. */
  queued: number;
  /** Events dropped for a time too far ahead of the wall clock (maxFutureSkewMs). */
  future: number;
}

export interface SharedEngineOptions {
  state: RedisDetectionState;
  ruleset: string;
  tables: RuleTable[];
  /** Per table: the projector of its pending events. */
  projectors: Projector[];
  latenessMs: number;
  limits: GroupLimits;
  /** The in-memory engine (same data rules) that takes over while Redis is unreachable. */
  fallback: DetectionEngine;
  deliver: (alert: Alert) => void;
  /** An open incident gained users (see AlertSink.update). */
  update: (alert: Alert) => void;
  errors: ErrorFunnel;
  meter: Meter;
  counts: {
    processed: number;
    droppedLate: number;
    alertsFired: number;
    alertsResolved: number;
    incidentsRefused: number;
  };
  /** llmsec.detect.events.dropped */
  droppedCounter: Counter;
  /** llmsec.detect.incidents.refused (by rule) */
  refusedCounter: Counter;
}

interface Work {
  table: RuleTable;
  key: string;
  /** Known when the work comes from an event; sweeps and releases read it from the body. */
  group: string | undefined;
  events: { t: number; event: SecurityEvent }[];
  /** The rule index whose resolve index named this group (a sweep). */
  fromIndex: number | undefined;
  /** Found in the shared pending index (left there by a process that may be gone). */
  swept?: boolean;
}

interface CacheEntry {
  v: number;
  body: GroupBody;
  bytes: number;
}

const MAX_ATTEMPTS = 50;
const SWEEP_LIMIT = 256;

/**
 * The shared-state half of DetectionEngine: ingest() queues (synchronously, bounded), a
 * background flusher ships batches to Redis, steps each touched group with compare-and-set,
 * releases groups whose pending events the watermark has passed, and sweeps due incidents.
 * Redis errors or timeouts switch detection to the fallback engine until a probe succeeds.
 */
export class SharedEngine {
  private readonly o: SharedEngineOptions;
  private readonly state: RedisDetectionState;
  private queue: { t: number; event: SecurityEvent }[] = [];
  private queueHead = 0;
  /**
   * Decoded state of the groups this process wrote last, by version: when nobody else wrote a
   * group since, the next batch steps it without a read or a decode, in one round trip.
   * Bounded by the size of their encoded text (RedisDetectionState.cacheBytes).
   */
  private readonly cache = new Map<string, CacheEntry>();
  private cacheBytes = 0;
  /**
   * The cache's entries in write order, oldest first, for eviction (stale ones skipped). Not
   * `cache.keys().next()`: a Map whose front entries were deleted keeps them as holes until it
   * rehashes, and every keys() walk skips them again (it was a fifth of the 100k-group profile).
   */
  private cacheOrder: [string, CacheEntry][] = [];
  private cacheOrderHead = 0;
  /**
   * Groups this process left events pending in: key -> oldest pending time. A group is released
   * (stepped) once the watermark passes its oldest pending event, as the in-memory reorder buffer
   * releases each event: keyed on the newest, an idle group's attack fired only when the
   * watermark passed the burst's last event (the lateness plus the burst's span late).
   */
  private readonly pending = new Map<string, { table: RuleTable; from: number }>();
  private running: Promise<void> | undefined;
  private scheduled = false;
  private finalRequested = false;
  /** Newest event time ingested here (for the late check). */
  private localMax = Number.NEGATIVE_INFINITY;
  /** Newest event time shipped (or declared by advanceTo once the queue is empty): what moves the shared clock. */
  private shippedMax = Number.NEGATIVE_INFINITY;
  private advanceMax = Number.NEGATIVE_INFINITY;
  /** The time given to the fallback engine by moveFallback. */
  private fallbackAt = Number.NEGATIVE_INFINITY;
  private globalMax = Number.NEGATIVE_INFINITY;
  private probeTimer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  private warnedQueueFull = false;
  private warnedRefused = false;
  private readonly degradedGauge: number[] = [0];
  private readonly episodeCounter: Counter;
  readonly stats: SharedStats = {
    mode: 'shared',
    degradedEpisodes: 0,
    degradedEvents: 0,
    queueDropped: 0,
    duplicates: 0,
    conflicts: 0,
    incidentsRefused: 0,
    unindexed: 0,
    queued: 0,
    future: 0,
  };
  private readonly clockTtl: number;
  private readonly indexTtl: number;

  constructor(options: SharedEngineOptions) {
    this.o = options;
    this.state = options.state;
    let maxTtl = options.latenessMs;
    for (const table of options.tables) maxTtl = Math.max(maxTtl, table.ttlMs);
    this.clockTtl = maxTtl + 86_400_000;
    this.indexTtl = maxTtl;
    const gauge = options.meter.createObservableGauge('llmsec.detect.state.degraded', {
      description: '1 while detection runs on local state because Redis is unreachable, else 0',
    });
    gauge.addCallback((r) => r.observe(this.degradedGauge[0]!));
    this.episodeCounter = options.meter.createCounter('llmsec.detect.state.degraded_episodes', {
      description: 'Times the shared detection state became unreachable and detection went local',
    });
    this.episodeCounter.add(0);
    options.droppedCounter.add(0, { reason: 'queue_full' });
    options.droppedCounter.add(0, { reason: 'future' });
  }

  /** The counters, with the live queue length (callers use it for backpressure). */
  snapshot(): SharedStats {
    return { ...this.stats, queued: this.queued() };
  }

  get degraded(): boolean {
    return this.stats.mode === 'degraded';
  }

  /**
   * The open incidents of every process sharing the state (read from Redis, bounded by the
   * resolve index's cap); DetectionEngine.activeIncidents() lists only what this process holds.
   */
  openIncidents(): Promise<Alert[]> {
    return untraced(() =>
      fleetIncidents(this.state, this.o.ruleset, this.o.tables, this.o.limits.maxUsersPerAlert),
    );
  }

  /** Synchronous and cheap: never touches Redis. */
  ingest(event: SecurityEvent, t: number): void {
    if (this.stopped) return;
    if (t > this.state.now() + this.state.maxFutureSkewMs) {
      this.stats.future++;
      this.o.droppedCounter.add(1, { reason: 'future' });
      return;
    }
    // Late against the newest time this process knows of (its own events and the shared
    // clock): the single-process rule. The group's processedUpTo catches the rest.
    const known = this.localMax > this.globalMax ? this.localMax : this.globalMax;
    if (t < known - this.o.latenessMs) {
      this.o.counts.droppedLate++;
      this.o.droppedCounter.add(1, { reason: 'late' });
      return;
    }
    if (t > this.localMax) this.localMax = t;
    if (this.stats.mode === 'degraded') {
      this.stats.degradedEvents++;
      this.o.fallback.ingest(event, t);
      return;
    }
    if (this.queue.length - this.queueHead >= this.state.maxQueuedEvents) {
      this.queueHead++;
      this.stats.queueDropped++;
      this.o.droppedCounter.add(1, { reason: 'queue_full' });
      if (!this.warnedQueueFull) {
        this.warnedQueueFull = true;
        diag.warn(
          `llmsec detect: shared-state queue full (${this.state.maxQueuedEvents} events): dropping the oldest; ` +
            'Redis is slower than the event rate (see llmsec.detect.events.dropped{reason="queue_full"})',
        );
      }
    }
    this.queue.push({ t, event });
    this.schedule();
  }

  /** Event time has reached `t` (tick / advanceTo): release pending groups and sweep. */
  advanceTo(t: number): void {
    if (t > this.localMax) this.localMax = t;
    if (t > this.advanceMax) this.advanceMax = t;
    // The fallback may yet receive the queued events (if Redis fails before they are shipped):
    // while some are, the flusher moves it after each round, as far as they allow (moveFallback).
    if (this.stats.mode === 'degraded') this.o.fallback.advanceTo(t);
    else if (this.queued() === 0 && this.running === undefined) this.moveFallback();
    this.schedule();
  }

  /** End of input: everything pending is processed up to the newest event time of any process. */
  flush(): void {
    this.finalRequested = true;
    // Flushed, the fallback's time is its newest: events still queued would be late there if
    // the final flush failed and they went to it. The flusher flushes it after the final round.
    if (this.stats.mode === 'degraded' || (this.queued() === 0 && this.running === undefined)) {
      this.o.fallback.flush();
    }
    this.schedule();
  }

  /** Resolves when the queue is empty and no flush is running (a final flush included). */
  async idle(): Promise<void> {
    for (let i = 0; i < 1_000_000; i++) {
      if (this.running !== undefined) {
        await this.running;
        continue;
      }
      // A pass scheduled (setImmediate) but not started yet counts as work: run it now.
      if (this.stats.mode === 'shared' && (this.scheduled || this.queued() > 0 || this.finalRequested)) {
        this.scheduled = false;
        this.kick();
        continue;
      }
      return;
    }
  }

  /**
   * A replica leaving is not the end of the fleet's input: ship what is queued, and if this
   * process left events pending in the shared state, give replicas stopping at the same time
   * `shutdownGraceMs` to ship theirs (a replica shipping after this one processed a group to
   * the end would find its events late), then process what is left to the newest event time.
   */
  async shutdown(): Promise<void> {
    this.finalRequested = false;
    await this.idle();
    const grace = this.state.shutdownGraceMs;
    if (this.pending.size > 0 && this.stats.mode === 'shared' && grace > 0) {
      await new Promise((resolve) => setTimeout(resolve, grace));
    }
    this.flush();
    await this.idle();
    this.stopped = true;
    if (this.probeTimer !== undefined) clearInterval(this.probeTimer);
  }

  private queued(): number {
    return this.queue.length - this.queueHead;
  }

  /**
   * Moves the fallback engine's time towards what advanceTo declared, but not so far that an
   * event still queued would be late there if Redis failed and it went to the fallback (late:
   * older than the fallback's time minus the lateness). Called between rounds only (no batch
   * in flight). Held until the queue drained (608d8df), the fallback stood still under steady
   * traffic, holding back what it buffered while degraded and its incidents' resolution.
   * O(queued), once per round (and per advanceTo while nothing is queued or shipping).
   */
  private moveFallback(): void {
    if (!(this.advanceMax > this.fallbackAt)) return;
    let oldest = Number.POSITIVE_INFINITY;
    const queue = this.queue;
    for (let i = this.queueHead; i < queue.length; i++) if (queue[i]!.t < oldest) oldest = queue[i]!.t;
    const to = Math.min(this.advanceMax, oldest + this.o.latenessMs);
    if (!(to > this.fallbackAt)) return;
    this.fallbackAt = to;
    this.o.fallback.advanceTo(to);
  }

  private schedule(): void {
    if (this.scheduled || this.stats.mode === 'degraded') return;
    this.scheduled = true;
    // Never inside Span.end() / logger.emit(): the flush starts on a later turn, and in the
    // root context (untraced, no baggage), not in the context of the request that scheduled it.
    untraced(() =>
      setImmediate(() => {
        this.scheduled = false;
        this.kick();
      }).unref(),
    );
  }

  private kick(): void {
    if (this.running !== undefined || this.stats.mode === 'degraded') return;
    // Untraced: forceFlush() may start it from inside a user's request context.
    const run = untraced(() => this.run()).catch((err: unknown) =>
      this.o.errors.report('detect state flush', err),
    );
    this.running = run;
    void run.finally(() => {
      if (this.running === run) this.running = undefined;
    });
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.stats.mode === 'degraded') return;
      const n = Math.min(this.queued(), this.state.batchSize);
      const batch = this.queue.slice(this.queueHead, this.queueHead + n);
      this.queueHead += n;
      if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.queueHead);
        this.queueHead = 0;
      }
      this.stats.queued = this.queued();
      const last = this.queued() === 0;
      const final = this.finalRequested && last;
      if (final) this.finalRequested = false;
      try {
        await this.ship(batch, final, last);
      } catch (err) {
        // A final round that failed is still the end of input: degrade flushes the fallback.
        if (final) this.finalRequested = true;
        this.degrade(err, batch);
        return;
      }
      // The batch is in Redis: the fallback's time may move as far as the events still queued allow.
      this.moveFallback();
      if (final) this.o.fallback.flush();
      // An advanceTo (tick) during the round found this run in progress (its kick was a no-op):
      // ship it now, or an idle replica's clock and releases would wait for the next tick.
      if (this.queued() === 0 && !this.finalRequested && !(this.advanceMax > this.shippedMax)) return;
    }
  }

  /** One round: the clock, every touched / released / due group, the resolve index. */
  private async ship(
    batch: { t: number; event: SecurityEvent }[],
    final: boolean,
    last: boolean,
  ): Promise<void> {
    const { state, ruleset, tables, projectors } = this.o;
    // Only what is shipped (and advanceTo once nothing queued is older) moves the clock, so
    // events still queued here are not late by the time they reach their groups.
    let max = this.shippedMax;
    for (const e of batch) if (e.t > max) max = e.t;
    if (last && this.advanceMax > max) max = this.advanceMax;
    this.shippedMax = max;
    const g = await state.advanceClock(
      state.clockKey(ruleset),
      Number.isFinite(max) ? max : -1e300,
      this.clockTtl,
    );
    if (g > this.globalMax) this.globalMax = g;
    const watermark = final ? this.globalMax : this.globalMax - this.o.latenessMs;

    const work = new Map<string, Work>();
    for (const { t, event } of batch) {
      for (let ti = 0; ti < tables.length; ti++) {
        const table = tables[ti]!;
        let group: string | undefined;
        for (const rule of table.rules) {
          if (!rule.categories.includes(event.category)) continue;
          if (rule.filter !== undefined && !rule.filter(event)) continue;
          group = keyString(rule.groupKey(event));
          break;
        }
        if (group === undefined) continue;
        const key = state.groupKey(ruleset, table.index, group);
        let w = work.get(key);
        if (w === undefined) {
          w = { table, key, group, events: [], fromIndex: undefined };
          work.set(key, w);
        }
        w.events.push({ t, event: projectors[ti]!(event) });
      }
    }
    for (const [key, p] of this.pending) {
      if ((final || p.from <= watermark) && !work.has(key)) {
        work.set(key, { table: p.table, key, group: undefined, events: [], fromIndex: undefined });
      }
    }
    // Groups whose oldest pending event the watermark passed a whole lateness ago: the process
    // that left them pending (and releases them on its next round) is gone, killed before it
    // could, or stopped ticking. Anyone releases them, so an attack's events do not wait for
    // more events in the group, or expire unprocessed.
    const orphanLists = await Promise.all(
      tables.map(async (table) => ({
        table,
        members: await state.dueMembers(
          state.pendingKey(ruleset, table.index),
          watermark - this.o.latenessMs,
          SWEEP_LIMIT,
        ),
      })),
    );
    for (const { table, members } of orphanLists) {
      for (const key of members) {
        const w = work.get(key);
        if (w === undefined)
          work.set(key, { table, key, group: undefined, events: [], fromIndex: undefined, swept: true });
        else w.swept = true;
      }
    }
    // Incidents due by the watermark, whichever process opened them.
    const dueLists = await Promise.all(
      tables.flatMap((table) =>
        table.rules.map(async (rule) => ({
          table,
          rule: rule.index,
          members: await state.dueMembers(state.indexKey(ruleset, rule.index), watermark, SWEEP_LIMIT),
        })),
      ),
    );
    for (const { table, rule, members } of dueLists) {
      for (const key of members) {
        const w = work.get(key);
        if (w === undefined) work.set(key, { table, key, group: undefined, events: [], fromIndex: rule });
        else w.fromIndex ??= rule;
      }
    }
    const indexOps = new Map<number, (string | number)[]>();
    const pendingOps = new Map<number, (string | number)[]>();
    await Promise.all([...work.values()].map((w) => this.stepOne(w, watermark, indexOps, pendingOps)));
    // Counted once per event (an event may feed several group-by tables), as the memory engine does.
    this.o.counts.processed += batch.length;
    await Promise.all([
      ...[...indexOps].map(async ([rule, ops]) => {
        const refused = await state.updateIndex(state.indexKey(ruleset, rule), this.indexTtl, ops);
        this.stats.unindexed += refused.length;
      }),
      ...[...pendingOps].map(([table, ops]) =>
        state.updatePendingIndex(state.pendingKey(ruleset, table), this.indexTtl, ops),
      ),
    ]);
  }

  /** Steps one group under compare-and-set, retrying from the current state on a conflict. */
  private async stepOne(
    w: Work,
    watermark: number,
    indexOps: Map<number, (string | number)[]>,
    pendingOps: Map<number, (string | number)[]>,
  ): Promise<void> {
    const { state, limits } = this.o;
    const cached = this.cache.get(w.key);
    if (cached !== undefined) this.forget(w.key);
    // Guess the version from the cache (events for an uncached group: an empty group; releases
    // and sweeps of an uncached group read first). The compare-and-set checks the guess, so a
    // stale cached state is never written, and a losing guess costs no extra round trip.
    let expected = cached?.v ?? (w.events.length > 0 ? 0 : -1);
    let text: string | undefined;
    let known: GroupBody | undefined = cached?.body;
    let guessed = cached !== undefined;
    /** Rule ids whose full resolve index refused this group's new incident: stepped without opening it. */
    let refuse: Set<string> | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (expected < 0) {
        const [, cur] = await state.cas(w.key, -1, '', 1);
        if (cur === '' && w.events.length === 0) {
          // Expired (TTL) or never written: nothing to release or resolve, and a resolve-index
          // entry naming it is stale (left in place it would hold a sweep slot at every batch).
          if (w.fromIndex !== undefined) pushOp(indexOps, w.fromIndex, 0, w.key, watermark);
          if (w.swept === true) pushOp(pendingOps, w.table.index, 0, w.key, 0);
          return;
        }
        // Events for a group that is gone (expired since this process cached it): a new group.
        if (cur === '') [expected, text] = [0, undefined];
        else [expected, text] = splitVersion(String(cur));
      }
      const fromCache = known !== undefined;
      const body = known ?? this.bodyOf(w, text);
      if (body === undefined) return;
      known = undefined;
      const before = new Set(Object.keys(body.i));
      const pendingBefore = body.q.length > 0 ? body.q[0]![0] : Number.POSITIVE_INFINITY;
      const step = stepGroup(w.table, body, w.events, watermark, limits, refuse);
      if (!step.changed && guessed) {
        // Nothing to write, so nothing checked the cached state: another process may have
        // written the group since. Read it and step the current state.
        guessed = false;
        expected = -1;
        continue;
      }
      guessed = false;
      if (!step.changed) {
        this.afterStep(
          w,
          step.pendingFrom,
          pendingBefore,
          step.open,
          before,
          watermark,
          indexOps,
          pendingOps,
        );
        return;
      }
      const refusedNow = await this.admitOpened(w, step.open, before);
      if (refusedNow.length > 0) {
        refuse ??= new Set();
        for (const id of refusedNow) refuse.add(id);
        // Step again without opening them, from the same stored state (the step changed `body`
        // in place): decoded again from its text, or read again if it came from the cache.
        if (fromCache) expected = -1;
        continue;
      }
      const next = encodeBody(step.body);
      const [ok, reply] = await state.cas(w.key, expected, next, w.table.ttlMs);
      if (ok === 1) {
        this.remember(w.key, Number(reply), step.body, next.length);
        this.o.counts.droppedLate += step.late;
        if (step.late > 0) this.o.droppedCounter.add(step.late, { reason: 'late' });
        this.stats.duplicates += step.duplicates;
        for (const ruleId of step.refused) this.countRefused(ruleId);
        for (const alert of step.alerts) {
          if (alert.status === 'firing') this.o.counts.alertsFired++;
          else this.o.counts.alertsResolved++;
          this.o.deliver(alert);
        }
        for (const alert of step.updates) this.o.update(alert);
        this.afterStep(
          w,
          step.pendingFrom,
          pendingBefore,
          step.open,
          before,
          watermark,
          indexOps,
          pendingOps,
        );
        return;
      }
      // A cached version that lost is a conflict; a first guess at a group written before is a read.
      if (attempt > 0 || cached !== undefined) this.stats.conflicts++;
      if (reply === '') {
        expected = 0;
        text = undefined;
        if (w.group === undefined) {
          // A release or sweep from a cached state of a group that has expired since (as a read finding nothing).
          if (w.fromIndex !== undefined) pushOp(indexOps, w.fromIndex, 0, w.key, watermark);
          if (w.swept === true) pushOp(pendingOps, w.table.index, 0, w.key, 0);
          return;
        }
      } else {
        [expected, text] = splitVersion(String(reply));
      }
    }
    throw new Error(`detection state: group ${w.key} still contended after ${MAX_ATTEMPTS} attempts`);
  }

  /** One event whose rule held but whose incident was refused (the rule's index is full). */
  private countRefused(ruleId: string): void {
    this.stats.incidentsRefused++;
    this.o.counts.incidentsRefused++;
    this.o.refusedCounter.add(1, { rule: ruleId });
    if (this.warnedRefused) return;
    this.warnedRefused = true;
    diag.warn(
      `llmsec detect: rule ${ruleId} has maxOpenIncidentsPerRule (${this.state.maxOpenIncidentsPerRule}) incidents open ` +
        'across the fleet: its new incidents are refused (not opened, no firing line) until some resolve; open ones ' +
        'are kept (see llmsec.detect.incidents.refused)',
    );
  }

  /**
   * Puts the incidents this step opens into their rules' resolve indexes BEFORE the group write
   * that opens them (index and group are in different Cluster slots: no one script writes both).
   * Written after it, the entry was lost when the process died (or Redis failed) in between, and
   * the incident resolved only on a new event of its group, or expired unlisted. Written first,
   * a failure in between leaves at worst an entry naming a group without that incident, which
   * the resolve sweep drops when it comes due. The index admits a new entry only below
   * maxOpenIncidentsPerRule: the ids of the rules it refused are returned, and the group is
   * stepped again without opening those (no open incident is evicted for a new one). Rare: only
   * steps that open an incident pay the round trip.
   */
  private async admitOpened(w: Work, open: Map<number, number>, before: Set<string>): Promise<string[]> {
    const { state, ruleset } = this.o;
    const asks: { id: string; reply: Promise<string[]> }[] = [];
    for (const rule of w.table.rules) {
      const at = open.get(rule.index);
      if (at === undefined || before.has(rule.id)) continue;
      asks.push({
        id: rule.id,
        reply: state.admitToIndex(state.indexKey(ruleset, rule.index), this.indexTtl, [1, w.key, at]),
      });
    }
    if (asks.length === 0) return [];
    const replies = await Promise.all(asks.map((a) => a.reply));
    return asks.filter((_, i) => replies[i]!.length > 0).map((a) => a.id);
  }

  /**
   * The group's state from its stored text; a text that does not decode (written by another
   * version, or damaged) is reported and replaced by an empty state rather than failing the
   * whole flush (which would send the engine degraded, and back, and again).
   */
  private bodyOf(w: Work, text: string | undefined): GroupBody | undefined {
    if (text === undefined) return emptyBody(w.group!);
    try {
      const body = decodeBody(text);
      if (
        typeof body?.k === 'string' &&
        Array.isArray(body.q) &&
        Array.isArray(body.r) &&
        typeof body.s === 'object' &&
        typeof body.i === 'object'
      )
        return body;
      throw new Error('not a group state');
    } catch (err) {
      this.o.errors.report('detect state decode', err);
      return w.group !== undefined ? emptyBody(w.group) : undefined;
    }
  }

  private afterStep(
    w: Work,
    pendingFrom: number,
    pendingBefore: number,
    open: Map<number, number>,
    before: Set<string>,
    watermark: number,
    indexOps: Map<number, (string | number)[]>,
    pendingOps: Map<number, (string | number)[]>,
  ): void {
    // The shared pending index: written when the group's oldest pending event changed (whoever
    // wrote the state before indexed the old one), removed once nothing is pending.
    if (pendingFrom !== pendingBefore || (w.swept === true && pendingFrom === Number.POSITIVE_INFINITY)) {
      if (pendingFrom < Number.POSITIVE_INFINITY) pushOp(pendingOps, w.table.index, 1, w.key, pendingFrom);
      else pushOp(pendingOps, w.table.index, 0, w.key, 0);
    }
    if (pendingFrom < Number.POSITIVE_INFINITY) {
      this.pending.delete(w.key);
      if (this.pending.size >= this.state.maxPendingGroups) {
        const oldest = this.pending.keys().next().value;
        if (oldest !== undefined) this.pending.delete(oldest);
      }
      this.pending.set(w.key, { table: w.table, from: pendingFrom });
    } else {
      this.pending.delete(w.key);
    }
    for (const rule of w.table.rules) {
      const at = open.get(rule.index);
      if (at !== undefined) pushOp(indexOps, rule.index, 1, w.key, at);
      // Removed only if scored at most the watermark (the resolved incident was due by it): an
      // entry a newer incident of this group got meanwhile (from another process) stays.
      else if (before.has(rule.id) || w.fromIndex === rule.index)
        pushOp(indexOps, rule.index, 0, w.key, watermark);
    }
  }

  private remember(key: string, v: number, body: GroupBody, bytes: number): void {
    this.forget(key);
    // Encoded bytes; the decoded objects take a few times that.
    const order = this.cacheOrder;
    while (this.cacheBytes + bytes > this.state.cacheBytes && this.cacheOrderHead < order.length) {
      const [oldKey, oldEntry] = order[this.cacheOrderHead]!;
      order[this.cacheOrderHead++] = undefined as unknown as [string, CacheEntry];
      if (this.cache.get(oldKey) === oldEntry) this.forget(oldKey);
    }
    const entry: CacheEntry = { v, body, bytes };
    this.cache.set(key, entry);
    this.cacheBytes += bytes;
    order.push([key, entry]);
    // Stale entries (forgotten or rewritten groups) are dropped once they are most of the list:
    // amortized O(1) per write, the list at most twice the cache plus a constant.
    if (order.length - this.cacheOrderHead > 2 * this.cache.size + 1024) {
      this.cacheOrder = order.slice(this.cacheOrderHead).filter(([k, e]) => this.cache.get(k) === e);
      this.cacheOrderHead = 0;
    } else if (this.cacheOrderHead > 4096 && this.cacheOrderHead * 2 > order.length) {
      this.cacheOrder = order.slice(this.cacheOrderHead);
      this.cacheOrderHead = 0;
    }
  }

  private forget(key: string): void {
    const entry = this.cache.get(key);
    if (entry === undefined) return;
    this.cache.delete(key);
    this.cacheBytes -= entry.bytes;
  }

  /** Redis failed: this batch and what follows go to the fallback engine until a probe answers. */
  private degrade(err: unknown, batch: { t: number; event: SecurityEvent }[]): void {
    if (this.stats.mode !== 'degraded') {
      this.stats.mode = 'degraded';
      this.stats.degradedEpisodes++;
      this.degradedGauge[0] = 1;
      this.episodeCounter.add(1);
      diag.warn(
        `llmsec detect: shared detection state unreachable (${err instanceof Error ? err.message : String(err)}); ` +
          'detecting in this process only until Redis answers again',
      );
    }
    const rest = this.queue.slice(this.queueHead);
    this.queue = [];
    this.queueHead = 0;
    this.stats.queued = 0;
    this.cache.clear();
    this.cacheBytes = 0;
    this.cacheOrder = [];
    this.cacheOrderHead = 0;
    for (const e of batch) this.toFallback(e);
    for (const e of rest) this.toFallback(e);
    // The time declared while they were queued (advanceTo held it back from the fallback).
    if (Number.isFinite(this.advanceMax)) this.o.fallback.advanceTo(this.advanceMax);
    if (this.advanceMax > this.fallbackAt) this.fallbackAt = this.advanceMax;
    if (this.finalRequested) {
      // The final flush happens locally; back in shared mode, only new work goes to Redis.
      this.finalRequested = false;
      this.o.fallback.flush();
    }
    if (this.probeTimer === undefined && !this.stopped) {
      this.probeTimer = untraced(() => setInterval(() => this.probe(), this.state.probeIntervalMs));
      this.probeTimer.unref();
    }
  }

  private toFallback(e: { t: number; event: SecurityEvent }): void {
    this.stats.degradedEvents++;
    this.o.fallback.ingest(e.event, e.t);
  }

  private probe(): void {
    this.state.ping().then(
      () => {
        if (this.probeTimer !== undefined) clearInterval(this.probeTimer);
        this.probeTimer = undefined;
        this.stats.mode = 'shared';
        this.degradedGauge[0] = 0;
        diag.info('llmsec detect: shared detection state reachable again; back to shared detection');
        this.schedule();
      },
      () => {
        /* still down: the next probe tries again */
      },
    );
  }
}

function pushOp(
  indexOps: Map<number, (string | number)[]>,
  rule: number,
  op: 0 | 1,
  key: string,
  score: number,
): void {
  let ops = indexOps.get(rule);
  if (ops === undefined) indexOps.set(rule, (ops = []));
  ops.push(op, key, score);
}
