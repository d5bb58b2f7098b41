import { diag } from '@opentelemetry/api';
import type { Alert, SecurityEvent } from '@llmsec/core';
import { untraced } from '@llmsec/core/internal';
import { lifecycleOf } from '../incident-lifecycle.ts';
import { DegradedMode } from './degraded-mode.ts';
import { DegradedRecord } from './degraded-record.ts';
import { FallbackFeed } from './fallback-feed.ts';
import { fleetIncidents } from './fleet-incidents.ts';
import { GroupCache } from './group-cache.ts';
import { GroupWriter } from './group-writer.ts';
import { HeldBatch } from './held-batch.ts';
import { PendingGroups } from './pending-groups.ts';
import type { RedisDetectionState } from './redis-state.ts';
import { collectWork, type RoundOps, type Work } from './round-work.ts';
import { EventQueue, type Timed } from './event-queue.ts';
import { SharedOverflow } from './shared-overflow.ts';
import { handBack } from './hand-back.ts';
import { splitLateResend } from './late-resend.ts';
import { ShipWaiters } from './ship-waiters.ts';
import type { SharedEngineOptions, SharedStats } from './shared-types.ts';

export type { SharedEngineOptions, SharedStats } from './shared-types.ts';

/**
 * The shared-state half of DetectionEngine: ingest() queues (synchronously, bounded), a
 * background flusher ships batches to Redis, steps each touched group with compare-and-set,
 * releases groups whose pending events the watermark has passed, and sweeps due incidents.
 * Redis errors or timeouts switch detection to the fallback engine until a probe succeeds.
 * Its parts: the round's group steps (GroupWriter), the switch to local detection and back
 * (DegradedMode), the fallback engine's feed and event time (FallbackFeed), this process's
 * overflow tier (SharedOverflow).
 */
export class SharedEngine {
  private readonly o: SharedEngineOptions;
  private readonly state: RedisDetectionState;
  private readonly queue: EventQueue;
  /** The decoded state of the groups this process wrote last (one round trip for their next step). */
  private readonly cache: GroupCache;
  /** Groups this process left events pending in, released when the watermark passes them. */
  private readonly pending: PendingGroups;
  private readonly writer: GroupWriter;
  /** This process's overflow incidents (undefined: maxOverflowIncidentsPerRule 0). */
  private readonly overflow: SharedOverflow | undefined;
  /** Callers of shipped(), waiting for the events queued before they asked to leave the queue. */
  private readonly waiters = new ShipWaiters();
  private running: Promise<void> | undefined;
  private scheduled = false;
  private finalRequested = false;
  /**
   * flush() was called and no event came after it: the caller declared the end of input (the
   * end of a replay), so shutdown() is not a replica leaving a fleet that goes on.
   */
  private endOfInput = false;
  /**
   * Shutting down without an end of input (a replica leaving): its final round processes what is
   * left but holds the shared clock to the wall clock, as any round that is not the fleet's end.
   */
  private leaving = false;
  /** Newest event time ingested here (for the late check). */
  private localMax = Number.NEGATIVE_INFINITY;
  /** Newest event time shipped (or declared by advanceTo once the queue is empty): what moves the shared clock. */
  private shippedMax = Number.NEGATIVE_INFINITY;
  private advanceMax = Number.NEGATIVE_INFINITY;
  /**
   * The last round moved the shared clock short of what it shipped (its batch spanned more than
   * the lateness, see ship): the next round moves the rest, shipping nothing, before its callers
   * are answered.
   */
  private clockOwed = false;
  /** The in-memory engine that detects while Redis is unreachable, and its event time. */
  private readonly fallback: FallbackFeed;
  /** The batch of a round Redis failed, shipped again when it answers (or handed to the fallback). */
  private readonly held = new HeldBatch();
  /** What the fallback took while a batch was held, shipped to Redis after it (DegradedRecord). */
  private readonly record = new DegradedRecord();
  private globalMax = Number.NEGATIVE_INFINITY;
  /** How far this process's clock ran ahead of the Redis server's plus maxClockSkewMs (see now()). */
  private clockLead = 0;
  /**
   * Event time is the wall clock's (maxFutureSkewMs finite: live detection). Not live (Infinity:
   * a replay of a log), a log's times have nothing to do with this machine's or the Redis
   * server's clock: no event is held to either (a log dated ahead was held until its end, so no
   * event was late and the alerts differed from an in-memory replay's).
   */
  private readonly live: boolean;
  private stopped = false;
  private warnedQueueFull = false;
  /** When this host's clock running ahead of the Redis server's was last said (see ship). */
  private clockLeadSaidAt = Number.NEGATIVE_INFINITY;
  /** The switch to local detection and back (mode, gauge, episodes, probe). */
  private readonly degradedMode: DegradedMode;
  /** Redis answered again: the fallback's open incidents go to the shared state before the next round. */
  private handBackDue = false;
  /**
   * Shutting down with group writes in doubt: the Date.now() by which their read ends, answered
   * or not (settleAtExit), so a slow or dead Redis does not hold the host's shutdown for it.
   */
  private doubtDeadline: number | undefined;
  readonly stats: SharedStats = {
    mode: 'shared',
    degradedEpisodes: 0,
    degradedEvents: 0,
    resent: 0,
    heldToLocal: 0,
    degradedResent: 0,
    degradedNotResent: 0,
    queueDropped: 0,
    duplicates: 0,
    conflicts: 0,
    incidentsRefused: 0,
    indexEvicted: 0,
    unindexed: 0,
    incidentsDamaged: 0,
    queued: 0,
    future: 0,
  };
  private readonly clockTtl: number;
  private readonly indexTtl: number;

  constructor(options: SharedEngineOptions) {
    this.o = options;
    this.state = options.state;
    this.live = this.state.maxFutureSkewMs < Number.POSITIVE_INFINITY;
    let maxTtl = options.latenessMs;
    for (const table of options.tables) maxTtl = Math.max(maxTtl, table.ttlMs);
    this.clockTtl = maxTtl + 86_400_000;
    this.indexTtl = maxTtl;
    this.queue = new EventQueue(this.state.maxQueuedEvents);
    this.cache = new GroupCache(this.state.cacheBytes);
    this.pending = new PendingGroups(this.state.maxPendingGroups);
    this.writer = new GroupWriter(options, {
      cache: this.cache,
      pending: this.pending,
      stats: this.stats,
      indexTtl: this.indexTtl,
    });
    this.overflow =
      options.maxOverflowPerRule > 0
        ? new SharedOverflow(options.maxOverflowPerRule, {
            deliver: options.deliver,
            update: options.update,
            counts: options.counts,
            refused: (ruleId) => this.writer.countRefused(ruleId),
          })
        : undefined;
    this.writer.overflow = this.overflow;
    this.fallback = new FallbackFeed(
      options.fallback,
      this.stats,
      options.latenessMs,
      this.held,
      this.record,
    );
    this.degradedMode = new DegradedMode(this.stats, this.state, options.meter, () => {
      this.handBackDue = true;
      this.schedule();
    });
    options.droppedCounter.add(0, { reason: 'queue_full' });
    options.droppedCounter.add(0, { reason: 'future' });
  }

  /** The counters, with the live queue length (callers use it for backpressure). */
  snapshot(): SharedStats {
    return { ...this.stats, queued: this.queued(), indexEvicted: this.stats.incidentsRefused };
  }

  get degraded(): boolean {
    return this.stats.mode === 'degraded';
  }

  /**
   * The open incidents of every process sharing the state (read from Redis, bounded by the
   * resolve index's cap); DetectionEngine.activeIncidents() lists only what this process holds.
   */
  openIncidents(): Promise<Alert[]> {
    return untraced(() => fleetIncidents(this.state, this.o.tables, this.o.limits.maxUsersPerAlert));
  }

  /** This process's overflow incidents, as firing alerts (see SharedOverflow). */
  overflowIncidents(): Alert[] {
    return this.overflow?.alerts() ?? [];
  }

  /**
   * The degraded-mode fallback is about to open an incident of (rule, group): extends this
   * process's overflow incident of the group instead, if one is open (SharedOverflow.extendHeld).
   */
  extendOverflow(ruleId: string, key: string, event: SecurityEvent, t: number): boolean {
    return this.overflow?.extendHeld(ruleId, key, event, t) ?? false;
  }

  /** Synchronous and cheap: never touches Redis. */
  ingest(event: SecurityEvent, t: number): void {
    if (this.stopped) return;
    this.endOfInput = false;
    const now = this.now();
    if (t > now + this.state.maxFutureSkewMs) {
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
    // No further than the clock: an event ahead of it (within the bound) must not make the
    // events after it late (see ship).
    const upTo = this.live && t > now ? now : t;
    if (upTo > this.localMax) this.localMax = upTo;
    if (this.stats.mode === 'degraded') {
      this.fallback.ingest(event, t);
      return;
    }
    this.waiters.added();
    if (!this.queue.push({ t, event })) {
      this.waiters.dropped();
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
    this.schedule();
  }

  /**
   * Resolves once every event ingested before the call has left this process's queue: shipped
   * to Redis (the shared clock moved to it), or, Redis failing, held for a resend or handed to
   * the fallback engine (or dropped by a full queue). The detector answers an export only then, so a sender that
   * waits for each answer is ordered fleet-wide: no replica ships events sent after ones another
   * replica still holds (see the detector README, "Replicas and event time").
   */
  shipped(): Promise<void> {
    const wait = this.waiters.wait();
    // The pass schedule() set up is an unref'd immediate (it must not hold a host app open),
    // which does not keep the event loop's poll from blocking: it ran only at the next timer
    // or I/O, ~45 ms later in the detector (measured), on every answer. Someone waits: run it now.
    if (this.scheduled && this.running === undefined && this.stats.mode === 'shared') {
      this.scheduled = false;
      this.kick();
    }
    return wait;
  }

  /**
   * The fleet's event-time clock as this process last read it in a round, or undefined before
   * its first round (and while Redis holds no clock: the script answers -1e300 for none).
   */
  fleetTime(): number | undefined {
    return this.globalMax > -1e300 ? this.globalMax : undefined;
  }

  /** A round that ships nothing: it reads the fleet's clock (fleetTime) and sweeps what is due. */
  readFleetClock(): void {
    this.schedule();
  }

  /** Event time has reached `t` (tick / advanceTo): release pending groups and sweep. */
  advanceTo(t: number): void {
    if (t > this.localMax) this.localMax = t;
    if (t > this.advanceMax) this.advanceMax = t;
    // The fallback may yet receive the queued events (if Redis fails before they are shipped):
    // while some are, the flusher moves it after each round, as far as they allow (moveFallback).
    if (this.stats.mode === 'degraded') {
      this.fallback.advanceTo(t);
      // No rounds while degraded: this process's overflow incidents resolve on its own time.
      this.overflow?.resolveDue(t - this.o.latenessMs);
    } else if (this.queued() === 0 && this.running === undefined) this.moveFallback();
    this.schedule();
  }

  /** End of input: everything pending is processed up to the newest event time of any process. */
  flush(): void {
    this.endOfInput = true;
    this.finalRequested = true;
    // Flushed, the fallback's time is its newest: events still queued would be late there if
    // the final flush failed and they went to it. The flusher flushes it after the final round.
    // A batch held for its resend (Redis just answered, its round not started) is shipped by
    // the final round first, and what the fallback took after it: the fallback is flushed after.
    if (
      this.stats.mode === 'degraded' ||
      (this.queued() === 0 && this.running === undefined && this.held.size === 0 && !this.record.givenBack)
    ) {
      this.fallback.flush();
    }
    // Degraded, no final round will resolve this process's overflow incidents: up to the
    // newest time it knows of, as the fallback's flush does.
    if (this.stats.mode === 'degraded') this.overflow?.resolveDue(Math.max(this.localMax, this.globalMax));
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
      if (
        this.stats.mode === 'shared' &&
        (this.scheduled || this.queued() > 0 || this.record.givenBack || this.finalRequested)
      ) {
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
   * Its incidents in Redis stay for the fleet (another replica's sweep resolves them when due);
   * its overflow incidents nobody else holds: unless the caller declared the end of input
   * (flush() with no event after it), they are resolved here, ending at the newest event time
   * this process knows (SharedOverflow.resolveAll). Returns that time when leaving (the caller
   * resolves its in-memory engines' incidents at it), undefined after an end of input.
   */
  async shutdown(): Promise<number | undefined> {
    const leaving = !this.endOfInput;
    this.leaving = leaving;
    this.finalRequested = false;
    // Stopping degraded with a failed round's writes in doubt (a replica stopped during a Redis
    // hiccup, its probe not due yet): one probe now. Redis answering, the return runs as it would
    // at the next probe (the in-doubt writes' lines, the hand-back, the held batch resent) before
    // the final round. Else the held batch went to the local engine: where its write had
    // landed, its events counted in Redis and locally, and the local engine opened a second
    // incident (another alert id, a firing and a resolved line as it left) on events the fleet
    // had counted (test/redis-late-reply-lines.test.ts).
    if (this.held.size > 0 || this.writer.inDoubt.size > 0) {
      this.doubtDeadline = Date.now() + 2 * this.state.commandTimeoutMs;
      await this.degradedMode.probeNow();
    }
    await this.idle();
    const grace = this.state.shutdownGraceMs;
    if (this.pending.size > 0 && this.stats.mode === 'shared' && grace > 0) {
      await new Promise((resolve) => setTimeout(resolve, grace));
    }
    this.flush();
    await this.idle();
    const leftAt = leaving ? Math.max(this.localMax, this.globalMax) : undefined;
    if (leftAt !== undefined) this.overflow?.resolveAll(leftAt);
    // No probe from here on: one answering during the read below would hand back and run rounds.
    this.degradedMode.stop();
    if (this.writer.inDoubt.size > 0) await this.settleAtExit();
    this.stopped = true;
    this.waiters.releaseAll();
    return leftAt;
  }

  /**
   * Stopping while group writes are in doubt (degraded, Redis not probed back yet: a replica
   * stopped during a Redis hiccup): their groups are read once now, as on Redis's return, before
   * the fallback's incidents are resolved (it is given the ones it opened itself). Else a write
   * that landed left the fleet changed with no line sent: an opening announced by no process
   * (another replica's sweep later sent a resolved line for an alert that never fired), a
   * resolve sent by none (the alert fired for good). Redis still failing, they are said and
   * dropped: whether they landed cannot be known, and a firing line for one that did not would
   * never be resolved. The read has one bound in all, from the shutdown's probe on (shutdown()):
   * twice the command timeout (a Redis that does not answer is told within one, a reconnecting
   * client's wait may take one more). The command timeout is on progress, so read in batches a
   * Redis answering each read just within it held a host's shutdown for as many timeouts as
   * it had reads (up to 1,024 groups).
   */
  private async settleAtExit(): Promise<void> {
    const lifecycle = lifecycleOf(this.o.fallback);
    const local = new Set((lifecycle?.openIncidents() ?? []).map((inc) => inc.alertId));
    const deadline = this.doubtDeadline ?? Date.now() + 2 * this.state.commandTimeoutMs;
    try {
      const late = await this.writer.inDoubt.settle(this.o, local, deadline);
      if (late > 0)
        diag.info(`llmsec detect: ${late} line(s) of group writes that landed unanswered sent at shutdown`);
    } catch (err) {
      diag.warn(
        `llmsec detect: stopping with ${this.writer.inDoubt.size} group write(s) unanswered whose lines (incident ` +
          `openings, updates, resolves) may have landed in Redis (${err instanceof Error ? err.message : String(err)}): ` +
          'they are not sent; the fleet resolves the incidents it holds when due',
      );
    }
  }

  /**
   * This process's wall clock, less how far it ran ahead of the Redis server's clock plus
   * maxClockSkewMs at the last round (0 on a host in step).
   */
  private now(): number {
    return this.state.now() - this.clockLead;
  }

  private queued(): number {
    return this.queue.length;
  }

  /**
   * The fallback's time towards what advanceTo declared, as far as the events still queued
   * allow (FallbackFeed.moveTowards). O(queued), once per round (and per advanceTo while nothing
   * is queued or shipping).
   */
  private moveFallback(): void {
    this.fallback.moveTowards(this.advanceMax, () => this.queue.oldestTime());
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
      if (this.handBackDue) {
        this.handBackDue = false;
        const lifecycle = lifecycleOf(this.o.fallback);
        try {
          // Group writes that failed unanswered first: one that landed sends its lines (openings,
          // resolves, updates; not those of incidents the fallback opened too), before the
          // hand-back and the round move on.
          if (this.writer.inDoubt.size > 0) {
            const local = new Set((lifecycle?.openIncidents() ?? []).map((inc) => inc.alertId));
            const late = await this.writer.inDoubt.settle(this.o, local, this.doubtDeadline);
            if (late > 0)
              diag.info(`llmsec detect: ${late} line(s) of group writes that landed unanswered sent late`);
          }
          const moved = lifecycle !== undefined ? await handBack(this.o, lifecycle, this.indexTtl) : 0;
          if (moved > 0)
            diag.info(`llmsec detect: ${moved} incident(s) opened while degraded handed to the shared state`);
          // What the fallback took after the held batch and has not processed follows it to
          // Redis (DegradedRecord), so a user's events of the episode count together there.
          this.fallback.reclaim();
        } catch (err) {
          this.degrade(err, []);
          return;
        }
      }
      // A failed round's batch first (HeldBatch), then what the fallback took while it was held
      // (DegradedRecord): older than anything queued, and their waiters were answered then.
      // The clock the last round owes (clockOwed) moves first, in a round of its own.
      const owed = this.clockOwed;
      const resend = owed ? [] : this.held.take();
      const resent = resend.length > 0;
      const local = !owed && !resent && this.record.givenBack;
      const batch = owed
        ? []
        : resent
          ? resend
          : local
            ? this.onTime(this.record.take(this.state.batchSize))
            : this.queue.take(this.state.batchSize);
      if (!owed && !resent && !local) this.waiters.taken(batch.length);
      this.stats.queued = this.queued();
      // Not the last while recorded events remain: the clock would move past them (advanceMax).
      const last = this.queued() === 0 && !this.record.givenBack;
      const final = this.finalRequested && last;
      if (final) this.finalRequested = false;
      try {
        this.clockOwed = await this.ship(batch, final, last, resent);
        // Answered once the clock has moved to the batch: a sender waiting for each answer
        // ships its next export after it (see shipped()).
        if (!this.clockOwed) this.waiters.roundDone();
      } catch (err) {
        // A final round that failed is still the end of input: degrade flushes the fallback.
        if (final) this.finalRequested = true;
        this.degrade(err, batch, resent, local);
        return;
      }
      if (resent) this.stats.resent += batch.length;
      if (local) this.stats.degradedResent += batch.length;
      // The batch is in Redis: the fallback's time may move as far as the events still queued allow.
      this.moveFallback();
      if (final) this.fallback.flush();
      // An advanceTo (tick) during the round found this run in progress (its kick was a no-op):
      // ship it now, or an idle replica's clock and releases would wait for the next tick.
      if (
        this.queued() === 0 &&
        !this.record.givenBack &&
        !this.finalRequested &&
        !this.clockOwed &&
        !(this.advanceMax > this.shippedMax)
      )
        return;
    }
  }

  /**
   * The fallback's events given back for Redis (DegradedRecord) that the fleet's clock, as the
   * held batch's round read it, has not left behind by the lateness; the others go back to the
   * fallback (counted in degradedNotResent): their groups may have processed past them while
   * this process was cut off (another replica's events), and they would be late there, counted
   * nowhere. The fallback's time stays within the lateness of the record (moveTowards): not late there.
   */
  private onTime(batch: Timed[]): Timed[] {
    const floor = this.globalMax - this.o.latenessMs;
    if (!batch.some((e) => e.t < floor)) return batch;
    const kept: Timed[] = [];
    for (const e of batch) {
      if (e.t >= floor) kept.push(e);
      else {
        this.stats.degradedNotResent++;
        this.fallback.readmit(e.event, e.t);
      }
    }
    return kept;
  }

  /**
   * One round: the clock, every touched / released / due group, the resolve index. Returns true
   * when it moved the clock short of what it shipped (clockOwed: the next round moves the rest).
   */
  private async ship(batch: Timed[], final: boolean, last: boolean, resent: boolean): Promise<boolean> {
    const { state, ruleset } = this.o;
    // Only what is shipped (and advanceTo once nothing queued is older) moves the clock, so
    // events still queued here are not late by the time they reach their groups.
    let max = this.shippedMax;
    for (const e of batch) if (e.t > max) max = e.t;
    if (last && this.advanceMax > max) max = this.advanceMax;
    this.shippedMax = max;
    // Events move the shared clock no further than the wall clock: one stamped ahead of it
    // (within maxFutureSkewMs) moved it to its own time, and every process's events after it
    // were late until then (a record sent 59 minutes ahead every 59 minutes: for good). Such an
    // event waits, pending in its group, until the clock reaches it. A time the caller declared
    // (advanceTo) and the end of input (final) are not held back by this process's clock; a
    // replica leaving is not the end of the fleet's input (its final round moved the clock to a
    // forged time it had shipped, and the other replicas' events were late until then:
    // redis-future-skew.test.ts). The script also holds such a round to the Redis server's
    // clock plus maxClockSkewMs, declared times included: this process's own clock may run
    // ahead, and a fast replica moved the fleet's clock to its wall clock
    // (redis-fast-clock.test.ts).
    let clockTo = max;
    const held = this.live && (!final || this.leaving);
    if (held) {
      const now = this.now();
      if (clockTo > now) clockTo = last && this.advanceMax > now ? this.advanceMax : now;
    }
    // The clock moves no further than the batch's oldest event plus the lateness until its
    // groups are written. The clock call comes first (the clock key and the groups are in
    // different slots of a Cluster: no one script does both), and another replica's round in
    // between read the clock and released groups up to it less the lateness: moved to the
    // batch's newest event, that passed its older events, which were then late in their groups
    // (three replicas fed a recorded log, each export awaited: 3-7 late a run, incidents lost).
    // Held to the oldest, such a release stays at or before every event of the batch. This
    // round still steps its groups to where the clock goes (`upTo` below), and the next round
    // moves the clock there (clockOwed) before the batch's callers are answered; a failure
    // between the two loses nothing (the clock lags, the events are in their groups). Only a
    // batch spanning more than the lateness (a backlog, a log's export, a batch behind a
    // declared time) pays that round. redis-clock-gap.test.ts.
    const full = clockTo;
    let owed = false;
    if (batch.length > 0 && Number.isFinite(clockTo)) {
      let oldest = Number.POSITIVE_INFINITY;
      for (const e of batch) if (e.t < oldest) oldest = e.t;
      const cap = oldest + this.o.latenessMs;
      if (clockTo > cap) {
        clockTo = cap;
        owed = true;
      }
    }
    this.writer.writesSent = 0;
    this.writer.lateResent = [];
    const sentAt = state.now();
    const { clock: g, server } = await state.advanceClock(
      state.clockKey(ruleset),
      Number.isFinite(clockTo) ? clockTo : -1e300,
      this.clockTtl,
      held ? state.maxClockSkewMs : undefined,
    );
    // This process's clock against the server's, read before the call (so the lead is not
    // overstated by the round trip): beyond the skew, now() takes the excess off, so a fast
    // replica's own late check and holds follow the fleet's time, not its wall clock.
    const ahead = sentAt - server - state.maxClockSkewMs;
    this.clockLead = this.live && ahead > 0 ? ahead : 0;
    // Events are now held to the server's clock: alerts come that much later. One of the two
    // clocks is wrong (this host's, or the Redis server's: a Docker VM's after the host slept),
    // and nothing else would say so. At most every 10 minutes while it lasts: a lead near the
    // skew crosses it back and forth from round to round.
    if (this.clockLead > 0 && !(sentAt - this.clockLeadSaidAt < 600_000)) {
      this.clockLeadSaidAt = sentAt;
      diag.warn(
        `llmsec detect: this host's clock is ${Math.round(ahead + state.maxClockSkewMs)} ms ahead of the Redis ` +
          `server's (TIME), more than maxClockSkewMs ${state.maxClockSkewMs}: event time is held to the ` +
          "server's clock, so events stamped by this host's time wait and alerts come up to that much later; " +
          'sync the clocks (NTP) of this host and the Redis server',
      );
    }
    // What this process took in before it knew (its first round) was held to its own clock.
    if (this.clockLead > 0 && this.localMax > this.now()) this.localMax = this.now();
    if (g > this.globalMax) this.globalMax = g;
    // Where the clock goes once the batch is in (owed), bounded as the script bounds it: this
    // round's groups are stepped as far as one round moving the clock there at once stepped them.
    let upTo = this.globalMax;
    if (owed) {
      const to = held ? Math.min(full, server + state.maxClockSkewMs) : full;
      if (to > upTo) upTo = to;
    }
    const watermark = final ? upTo : upTo - this.o.latenessMs;

    const work = await collectWork(this.o, batch, this.pending, watermark, final);
    // A failed round's events again: a group whose write landed drops them (stepGroup).
    if (resent) for (const w of work.values()) if (w.events.length > 0) w.resent = true;
    // The groups the resolve sweep found due are stepped first and their index removals sent
    // before the others are stepped: an incident resolved in this round frees its slot of
    // maxOpenIncidentsPerRule for a newcomer of the same round, as in memory (an incident due
    // before an event is resolved before it). Sent at the round's end, the removal came after
    // the newcomer's admission, which a full index refused. Only rounds with a due incident and
    // other work pay the extra round trip.
    const due: Work[] = [];
    const rest: Work[] = [];
    for (const w of work.values()) (w.fromIndex !== undefined ? due : rest).push(w);
    if (due.length > 0 && rest.length > 0) {
      const dueOps: RoundOps = { index: new Map(), pending: new Map() };
      await Promise.all(due.map((w) => this.writer.step(w, watermark, dueOps)));
      await this.sendIndexOps(dueOps);
      due.length = 0;
    }
    const ops: RoundOps = { index: new Map(), pending: new Map() };
    await Promise.all([...due, ...rest].map((w) => this.writer.step(w, watermark, ops)));
    // Counted once per event (an event may feed several group-by tables), as the memory engine does.
    this.o.counts.processed += batch.length;
    // This process's overflow incidents due by the round's watermark (their groups' events of
    // this round have extended them by now).
    this.overflow?.resolveDue(watermark);
    await this.sendIndexOps(ops);
    // The round stood: a resend's events the fleet's groups left behind go to the local engine
    // (late-resend.ts), before its time moves on (moveFallback, after the round).
    if (resent) {
      const { local, late } = splitLateResend(batch, work.values(), this.writer.lateResent);
      this.writer.countDropped(late, 0);
      this.fallback.takeLateResend(local);
    }
    return owed;
  }

  /** A round's resolve- and pending-index updates, collected while its groups were stepped. */
  private async sendIndexOps(ops: RoundOps): Promise<void> {
    const { state } = this.o;
    await Promise.all([
      ...[...ops.index].map(async ([key, list]) => {
        const refused = await state.updateIndex(key, this.indexTtl, list);
        this.stats.unindexed += refused.length;
      }),
      ...[...ops.pending].map(([key, list]) => state.updatePendingIndex(key, this.indexTtl, list)),
    ]);
  }

  /**
   * Redis failed: this batch is held for a resend when Redis answers if some of its group writes
   * may have landed (HeldBatch; else it goes to the fallback engine at once: none of its events
   * reached Redis), and what follows goes to the fallback engine until a probe answers. A
   * `resent` batch is held again even when this round sent no write: its first round's writes
   * may have landed (handed to the fallback, their events counted twice). A `local` batch (the
   * fallback's events given back for Redis, DegradedRecord) is held too: the held batch before
   * it is in Redis, so it must follow there (a group takes the events of a held batch none of
   * which it holds). The rest of the record goes back to the fallback before what was queued
   * (recorded again, the batch being held); the fallback took those events once already, so by
   * readmit.
   */
  private degrade(err: unknown, batch: Timed[], resent = false, local = false): void {
    this.degradedMode.enter(err);
    // A held batch's resend holds the clock to its own oldest event again (ship).
    this.clockOwed = false;
    const rest = this.queue.drain();
    // Given back by the fallback (reclaim) and not shipped yet: back to it below. Still being
    // recorded (the hand-back failed before reclaim), they are in the fallback: left there.
    const given = this.record.givenBack ? this.record.take(this.record.size) : [];
    this.stats.queued = 0;
    this.cache.clear();
    // No write of it sent (or all refused by an error reply): none of its events is in Redis,
    // so nothing can count twice and the local engine takes them now. The episode is then local,
    // split from the events before it (in Redis), as degraded mode always was, and as an episode
    // that starts with no round in flight is (the README's "not closed", Degraded mode).
    if (this.writer.writesSent === 0 && !resent && !local)
      for (const e of batch) this.fallback.ingest(e.event, e.t);
    else {
      const held = local ? batch.map((e) => ({ ...e, readmit: true })) : batch;
      if (!this.held.hold(held)) this.fallback.ingestNotHeld(held);
    }
    // Recorded again while a batch is held (FallbackFeed), for the next return.
    for (const e of given) this.fallback.readmit(e.event, e.t);
    for (const e of rest) this.fallback.ingest(e.event, e.t);
    // The round's batch (taken: counted by roundDone), then what was still queued.
    this.waiters.roundDone();
    this.waiters.removed(rest.length);
    // The time declared while they were queued (advanceTo held it back from the fallback).
    this.fallback.caughtUp(this.advanceMax);
    if (this.finalRequested) {
      // The final flush happens locally; back in shared mode, only new work goes to Redis.
      this.finalRequested = false;
      this.fallback.flush();
      // No final round will resolve this process's overflow incidents either (see flush()).
      this.overflow?.resolveDue(Math.max(this.localMax, this.globalMax));
    }
    if (!this.stopped) this.degradedMode.startProbing();
  }
}
