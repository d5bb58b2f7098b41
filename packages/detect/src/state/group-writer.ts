import { diag } from '@opentelemetry/api';
import type { SecurityEvent } from '@llmsec/core';
import type { GroupCache } from './group-cache.ts';
import { decodeBody, emptyBody, encodeBody, stepGroup, type GroupBody } from './group-runner.ts';
import { InDoubtWrites } from './in-doubt-writes.ts';
import type { PendingGroups } from './pending-groups.ts';
import { splitVersion } from './redis-state.ts';
import { pushOp, type RoundOps, type Work } from './round-work.ts';
import type { SharedOverflow } from './shared-overflow.ts';
import type { SharedEngineOptions, SharedStats } from './shared-types.ts';

/** The resolve-index key of the rule whose sweep named the work's group. */
function fromKey(w: Work): string {
  return w.table.indexKeys[w.table.rules.findIndex((r) => r.index === w.fromIndex)]!;
}

/** Compare-and-set attempts on one group in one round before the round fails (degraded mode). */
const MAX_ATTEMPTS = 50;

/**
 * Steps one group of a round under compare-and-set: from the cached state when this process
 * wrote it last (a guess the write checks), else from the state the store returns; retries
 * from the current state on a conflict; admits the incidents a step opens to their resolve
 * index before the write (refused at the cap: stepped again without them, their events handed
 * to the process-local overflow tier); then delivers the step's alerts and notes the index
 * updates for the round.
 */
export class GroupWriter {
  private readonly o: SharedEngineOptions;
  private readonly cache: GroupCache;
  private readonly pending: PendingGroups;
  private readonly stats: SharedStats;
  private readonly indexTtl: number;
  private warnedRefused = false;
  private warnedDamaged = false;
  /** The process-local overflow tier (undefined: off, a refusal is only counted). */
  overflow: SharedOverflow | undefined;
  /** The lines of writes that failed unanswered: sent on Redis's return (or at shutdown) if they landed. */
  readonly inDoubt = new InDoubtWrites();
  /**
   * Group writes of the round sent and not refused by a Redis error reply (set to 0 as a round
   * starts): when the round fails, none means none of its events reached Redis, and the batch
   * goes to the fallback at once; else some may have (HeldBatch).
   */
  writesSent = 0;
  /**
   * A resend's events late in groups where it had not landed, from the round's steps that
   * stood (written, or nothing to write); reset as a round starts (LateResend).
   */
  lateResent: { t: number; event: SecurityEvent }[] = [];

  constructor(
    options: SharedEngineOptions,
    parts: { cache: GroupCache; pending: PendingGroups; stats: SharedStats; indexTtl: number },
  ) {
    this.o = options;
    this.cache = parts.cache;
    this.pending = parts.pending;
    this.stats = parts.stats;
    this.indexTtl = parts.indexTtl;
  }

  /** Steps one group under compare-and-set, retrying from the current state on a conflict. */
  async step(w: Work, watermark: number, ops: RoundOps): Promise<void> {
    const { state, limits } = this.o;
    const { index: indexOps, pending: pendingOps } = ops;
    const cached = this.cache.take(w.key);
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
          if (w.fromIndex !== undefined) pushOp(indexOps, fromKey(w), 0, w.key, watermark);
          if (w.swept === true) pushOp(pendingOps, w.table.pendingKey, 0, w.key, 0);
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
      const step = stepGroup(
        w.table,
        body,
        w.events,
        watermark,
        limits,
        refuse,
        this.overflow,
        w.resent === true,
      );
      if (!step.changed && guessed) {
        // Nothing to write, so nothing checked the cached state: another process may have
        // written the group since. Read it and step the current state.
        guessed = false;
        expected = -1;
        continue;
      }
      guessed = false;
      if (!step.changed) {
        // Nothing to write, but what the step dropped is counted as a write's would be: a
        // retried export's copy reaching another replica after its original was shipped is
        // all duplicates (and an event older than the group's processed time, late), and
        // changes nothing. Uncounted, such drops were invisible (duplicates 0 for a fleet
        // whose senders' exports are answered once shipped).
        this.countDropped(step.late, step.duplicates);
        for (const e of step.lateResent) this.lateResent.push(e);
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
      let ok: number;
      let reply: string | number;
      this.writesSent++;
      try {
        [ok, reply] = await state.cas(w.key, expected, next, w.table.ttlMs);
      } catch (err) {
        // Unanswered, the write may still have landed: its lines (openings, resolves, updates)
        // wait for Redis's return or the shutdown, which tell (in-doubt-writes.ts).
        // A Redis error reply (OOM, READONLY) refused it: nothing landed.
        if ((err as { name?: unknown }).name === 'ReplyError') this.writesSent--;
        else this.inDoubt.note(w.key, w.table, { expected, text: next }, step, w.events);
        throw err;
      }
      if (ok === 1) {
        this.cache.remember(w.key, Number(reply), step.body, next.length);
        this.countDropped(step.late, step.duplicates);
        for (const e of step.lateResent) this.lateResent.push(e);
        if (step.damaged > 0) this.countDamaged(step.damaged);
        for (const ruleId of step.refused) this.countRefused(ruleId);
        if (step.overflow.length > 0) this.overflow?.apply(step.body.k, step.overflow);
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
          if (w.fromIndex !== undefined) pushOp(indexOps, fromKey(w), 0, w.key, watermark);
          if (w.swept === true) pushOp(pendingOps, w.table.pendingKey, 0, w.key, 0);
          return;
        }
      } else {
        [expected, text] = splitVersion(String(reply));
      }
    }
    throw new Error(`detection state: group ${w.key} still contended after ${MAX_ATTEMPTS} attempts`);
  }

  /** Stored incidents dropped as damaged (counted once their group's write landed), one warning. */
  private countDamaged(n: number): void {
    this.stats.incidentsDamaged += n;
    if (this.warnedDamaged) return;
    this.warnedDamaged = true;
    diag.warn(
      'llmsec detect: a stored incident has start or last times that are not times (damaged: another replica or a manual edit); dropped, detection goes on ' +
        '(see stats.state.incidentsDamaged)',
    );
  }

  /** Events a step dropped: late (older than the group's processed time), or duplicates. */
  countDropped(late: number, duplicates: number): void {
    this.o.counts.droppedLate += late;
    if (late > 0) this.o.droppedCounter.add(late, { reason: 'late' });
    this.stats.duplicates += duplicates;
  }

  /**
   * One incident refused a slot (the rule's index is full): opened in the overflow tier, or with
   * the tier off one event whose rule held, not opened.
   */
  countRefused(ruleId: string): void {
    this.stats.incidentsRefused++;
    this.o.counts.incidentsRefused++;
    this.o.refusedCounter.add(1, { rule: ruleId });
    if (this.warnedRefused) return;
    this.warnedRefused = true;
    diag.warn(
      `llmsec detect: rule ${ruleId} has maxOpenIncidentsPerRule (${this.o.state.maxOpenIncidentsPerRule}) incidents open ` +
        'across the fleet: ' +
        (this.overflow !== undefined
          ? "its new incidents open in this process's overflow tier (the quiet-longest resolved early when full)"
          : 'its new incidents are refused (not opened, no firing line)') +
        ' until some resolve; open ones are kept (see llmsec.detect.incidents.refused)',
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
    const { state } = this.o;
    const asks: { id: string; reply: Promise<string[]> }[] = [];
    w.table.rules.forEach((rule, j) => {
      const at = open.get(rule.index);
      if (at === undefined || before.has(w.table.sids[j]!)) return;
      asks.push({
        id: rule.id,
        reply: state.admitToIndex(w.table.indexKeys[j]!, this.indexTtl, [1, w.key, at]),
      });
    });
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
    indexOps: Map<string, (string | number)[]>,
    pendingOps: Map<string, (string | number)[]>,
  ): void {
    // The shared pending index: written when the group's oldest pending event changed (whoever
    // wrote the state before indexed the old one), removed once nothing is pending.
    if (pendingFrom !== pendingBefore || (w.swept === true && pendingFrom === Number.POSITIVE_INFINITY)) {
      if (pendingFrom < Number.POSITIVE_INFINITY)
        pushOp(pendingOps, w.table.pendingKey, 1, w.key, pendingFrom);
      else pushOp(pendingOps, w.table.pendingKey, 0, w.key, 0);
    }
    if (pendingFrom < Number.POSITIVE_INFINITY) this.pending.note(w.key, w.table, pendingFrom);
    else this.pending.delete(w.key);
    w.table.rules.forEach((rule, j) => {
      const at = open.get(rule.index);
      const key = w.table.indexKeys[j]!;
      if (at !== undefined) pushOp(indexOps, key, 1, w.key, at);
      // Removed only if scored at most the watermark (the resolved incident was due by it): an
      // entry a newer incident of this group got meanwhile (from another process) stays.
      else if (before.has(w.table.sids[j]!) || w.fromIndex === rule.index)
        pushOp(indexOps, key, 0, w.key, watermark);
    });
  }
}
