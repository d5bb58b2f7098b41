import { hash } from 'node:crypto';
import type { Alert, SecurityEvent } from '@llmsec/core';
import { alertId } from '../incident.ts';
import { decodeBody, shortId, type GroupBody, type RuleTable } from './group-runner.ts';
import { splitVersion } from './redis-state.ts';
import type { SharedEngineOptions } from './shared-types.ts';

/** Groups whose writes are kept in doubt; past this (a flood of new groups) one more is not. */
const MAX_GROUPS = 1_024;
/** Writes kept per group (one in practice: no round runs while some are unread). */
const MAX_WRITES = 4;
/** Groups read concurrently when Redis answers again. */
const BATCH = 64;
/** Event ids kept per write (its newest): more than the group keeps (recentIds, 32). */
const MAX_IDS = 64;

/** One group write whose reply never came, and the lines its step held back. */
interface Doubt {
  table: RuleTable;
  /** The version the compare-and-set expected: landed, the group went to expected + 1. */
  expected: number;
  /** A hash of the text it wrote: the stored group at expected + 1 with this text is this write. */
  wrote: string;
  /** Its step's firing and resolved lines, in step order. */
  alerts: Alert[];
  /** Its step's updates (open incidents that gained users). */
  updates: Alert[];
  /** Its events' ids (shortId, the newest MAX_IDS). */
  ids: Set<string>;
}

/**
 * The lines of group writes whose reply never came (the command timeout, a lost connection).
 * A step sends its lines once its compare-and-set answers; a write Redis applied while its reply
 * came after the timeout had changed the fleet's group with no line sent: an incident it opened
 * fired nowhere (the fallback, holding only the round's events, opened nothing), and the fleet
 * later resolved it (a resolved line for an alert that never fired); an incident it resolved
 * was gone from the group, so no process resolved it again (the alert stayed firing); an
 * update (users gained) never reached the sinks.
 *
 * Kept here until Redis answers again (before the hand-back and the first round) or the process
 * stops, then each group is read and each write judged: it landed when the group is at the
 * version after the one it expected and holds the text it wrote (another write at that version
 * means it did not: the compare-and-set takes one write per version); at a version it never
 * reached, it did not. At a later version (written since), its events tell: a write is atomic,
 * so one that landed left them in the group (its last 32 ids or pending); none there while those
 * ids are not full, it did not land; full, or a write without events (a release, a sweep), it
 * cannot be told, and its lines are sent where the group agrees (twice rather than never).
 * A write that landed sends its firing lines (the group holds the incident, or the write
 * resolved it too), its resolved lines (the group no longer holds the incident) and its updates
 * (the incident still holds that many users: a later update went out with more). One that did
 * not land sends nothing here: its batch, held, is shipped again (HeldBatch), and the sweep
 * resolves what it would have. An incident the fallback holds open (its alert ids: opened there
 * too) has its own lines from there.
 */
export class InDoubtWrites {
  private readonly groups = new Map<string, Doubt[]>();

  get size(): number {
    return this.groups.size;
  }

  /**
   * A group write (`text`, expecting `expected`) failed without an answer: its step's `alerts`
   * and `updates` may have landed, with its `events` (the newest MAX_IDS kept, as ids: the ones
   * the group keeps longest).
   */
  note(
    key: string,
    table: RuleTable,
    write: { expected: number; text: string },
    step: { alerts: readonly Alert[]; updates: readonly Alert[] },
    events: readonly { t: number; event: SecurityEvent }[],
  ): void {
    if (step.alerts.length === 0 && step.updates.length === 0) return;
    const known = this.groups.get(key);
    if (known === undefined ? this.groups.size >= MAX_GROUPS : known.length >= MAX_WRITES) return;
    const newest = events.length > MAX_IDS ? [...events].sort((a, b) => b.t - a.t).slice(0, MAX_IDS) : events;
    const doubt: Doubt = {
      table,
      expected: write.expected,
      wrote: textHash(write.text),
      alerts: [...step.alerts],
      updates: [...step.updates],
      ids: new Set(newest.map((e) => shortId(e.event.event_id))),
    };
    if (known !== undefined) known.push(doubt);
    else this.groups.set(key, [doubt]);
  }

  /**
   * Redis answers again (or the process stops): sends the lines of the writes that landed
   * (`localIds`: the alert ids of the fallback's open incidents, which send their own); forgets
   * them all. Throws if Redis fails, or when `deadline` (a Date.now() time) passes first (those
   * not read yet stay). Returns how many lines were sent.
   */
  async settle(o: SharedEngineOptions, localIds: ReadonlySet<string>, deadline?: number): Promise<number> {
    let sent = 0;
    const all = [...this.groups];
    for (let i = 0; i < all.length; i += BATCH) {
      if (deadline !== undefined && Date.now() >= deadline) throw outOfTime();
      const slice = all.slice(i, i + BATCH);
      const reads = Promise.all(slice.map(([key]) => o.state.cas(key, -1, '', 1)));
      const stored = await (deadline === undefined ? reads : beforeDeadline(reads, deadline));
      slice.forEach(([key, doubts], k) => {
        this.groups.delete(key);
        const group = storedGroup(String(stored[k]![1]));
        for (const doubt of doubts) sent += sendLanded(o, doubt, group, localIds);
      });
    }
    return sent;
  }
}

/** A stored group as read: its version (0: none) and text, and its body (undefined: none, or it does not decode). */
interface StoredGroup {
  version: number;
  text: string;
  body: GroupBody | undefined;
}

/** The lines of `doubt` that landed, sent; returns how many. */
function sendLanded(
  o: SharedEngineOptions,
  doubt: Doubt,
  group: StoredGroup,
  localIds: ReadonlySet<string>,
): number {
  const { body } = group;
  if (body === undefined || !mayHaveLanded(doubt, group, o.limits.recentIds)) return 0;
  const open = storedIncidents(doubt.table, body);
  const resolvedHere = new Set<string>();
  for (const a of doubt.alerts) if (a.status === 'resolved') resolvedHere.add(a.alert_id);
  let sent = 0;
  for (const alert of doubt.alerts) {
    if (localIds.has(alert.alert_id)) continue;
    if (alert.status === 'firing') {
      if (!open.has(alert.alert_id) && !resolvedHere.has(alert.alert_id)) continue;
      o.counts.alertsFired++;
    } else {
      if (open.has(alert.alert_id)) continue;
      o.counts.alertsResolved++;
    }
    o.deliver(alert);
    sent++;
  }
  for (const alert of doubt.updates) {
    if (localIds.has(alert.alert_id) || open.get(alert.alert_id) !== alert.user_ids.length) continue;
    o.update(alert);
    sent++;
  }
  return sent;
}

/**
 * Whether the write may have landed: see InDoubtWrites. At the version after the one it
 * expected, it landed exactly when the group holds its text; below that, it did not; above,
 * its events tell, when they can.
 */
function mayHaveLanded(doubt: Doubt, group: StoredGroup, recentIds: number): boolean {
  if (group.version === doubt.expected + 1) return textHash(group.text) === doubt.wrote;
  if (group.version <= doubt.expected) return false;
  const body = group.body!;
  const r = Array.isArray(body.r) ? body.r : [];
  if (doubt.ids.size === 0 || r.length >= recentIds) return true;
  for (const id of r) if (doubt.ids.has(id)) return true;
  const q = Array.isArray(body.q) ? body.q : [];
  for (const p of q) {
    const id: unknown = Array.isArray(p) ? (p[2] as { event_id?: unknown } | undefined)?.event_id : undefined;
    if (typeof id === 'string' && doubt.ids.has(shortId(id))) return true;
  }
  return false;
}

/** A stored group's text as the compare-and-set read returns it ('': none). */
function storedGroup(stored: string): StoredGroup {
  if (stored === '') return { version: 0, text: '', body: undefined };
  const [version, text] = splitVersion(stored);
  try {
    const body = decodeBody(text);
    return { version, text, body: typeof body === 'object' && body !== null ? body : undefined };
  } catch {
    // Another version's or a damaged text: the group's own step reports it.
    return { version, text, body: undefined };
  }
}

/** The alert ids of a stored group's open incidents, each with its number of users. */
function storedIncidents(table: RuleTable, body: GroupBody): Map<string, number> {
  const open = new Map<string, number>();
  table.rules.forEach((rule, r) => {
    const inc = body.i?.[table.sids[r]!];
    if (inc !== undefined && typeof inc.s === 'number')
      open.set(alertId(rule.id, rule.groupBy, body.k, inc.s), Array.isArray(inc.u) ? inc.u.length : -1);
  });
  return open;
}

/** A written group text as 16 bytes (it is compared with the stored text, not kept). */
function textHash(text: string): string {
  return hash('sha1', text, 'base64url');
}

/** `reads`, or a rejection once `deadline` passes first. */
function beforeDeadline<T>(reads: Promise<T>, deadline: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(outOfTime()), Math.max(0, deadline - Date.now()));
    timer.unref();
  });
  return Promise.race([reads, late]).finally(() => clearTimeout(timer));
}

function outOfTime(): Error {
  return new Error("the read of the in-doubt writes ran out of the shutdown's time for it");
}
