import type { Alert, SecurityEvent } from '@llmsec/core';
import { alertId } from '../incident.ts';
import { decodeBody, shortId, type GroupBody, type RuleTable } from './group-runner.ts';
import { splitVersion } from './redis-state.ts';
import type { SharedEngineOptions } from './shared-types.ts';

/** Groups whose openings are kept in doubt; past this (a flood of new groups) one more is not. */
const MAX_GROUPS = 1_024;
/** Groups read concurrently when Redis answers again. */
const BATCH = 64;
/** Event ids kept per group (the write's newest): more than the group keeps (recentIds, 32). */
const MAX_IDS = 64;

/**
 * Incidents a round opened in a group write whose reply never came (the command timeout, a lost
 * connection). A step delivers its firing lines once its compare-and-set answers; a write Redis
 * applied while its reply came after the timeout left the fleet holding an open incident whose
 * firing line no process sent (its events went to the fallback as well, which, holding only
 * those, had not reached the threshold). The fleet then extended and resolved it: a resolved line
 * for an alert that never fired, the attack unannounced.
 *
 * Kept here until Redis answers again, then, before the hand-back and the first round, each
 * group is read: an opening the store holds (its rule's incident with the same alert id, that is
 * the same start) landed, and its firing line goes out then, late rather than never; one the
 * store does not hold did not land, and is forgotten (its round's batch, held, is shipped again
 * right after: HeldBatch). One the fallback opened too (the same alert id among its open incidents) has
 * had its firing line from there, and the hand-back makes the two one. The same alert id held
 * by the store is not enough: another replica may have opened the same incident (the same
 * start) while this write never landed, and sent its firing line; a second one from here showed
 * in JSONL and OTel-log sinks (Alertmanager merges them by id). So the write's event ids are
 * kept too: a write is atomic, and one that landed left them in the group (its recent ids or
 * pending). None there while the group's recent ids are not full: it did not land, nothing is
 * delivered; full, they may have been pushed out since, and the opening is delivered (a second
 * line rather than none).
 */
export class InDoubtOpenings {
  private readonly groups = new Map<string, { table: RuleTable; firing: Alert[]; ids: Set<string> }>();

  get size(): number {
    return this.groups.size;
  }

  /**
   * A group write failed without an answer: its step's firing alerts may have landed, with its
   * `events` (the newest MAX_IDS of them kept, as ids: the ones the group keeps longest).
   */
  note(
    key: string,
    table: RuleTable,
    alerts: readonly Alert[],
    events: readonly { t: number; event: SecurityEvent }[],
  ): void {
    let firing: Alert[] | undefined;
    for (const a of alerts) if (a.status === 'firing') (firing ??= []).push(a);
    if (firing === undefined) return;
    const newest = events.length > MAX_IDS ? [...events].sort((a, b) => b.t - a.t).slice(0, MAX_IDS) : events;
    const ids = new Set(newest.map((e) => shortId(e.event.event_id)));
    const known = this.groups.get(key);
    if (known !== undefined) {
      known.firing.push(...firing);
      for (const id of ids) if (known.ids.size < 2 * MAX_IDS) known.ids.add(id);
    } else if (this.groups.size < MAX_GROUPS) this.groups.set(key, { table, firing, ids });
  }

  /**
   * Redis answers again: delivers the openings that landed and that the fallback did not open
   * (`localIds`: the alert ids of its open incidents); forgets them all. Throws if Redis fails
   * (the caller degrades again; those not read yet stay for the next return). Returns how many
   * were delivered.
   */
  async settle(o: SharedEngineOptions, localIds: ReadonlySet<string>): Promise<number> {
    let delivered = 0;
    const all = [...this.groups];
    for (let i = 0; i < all.length; i += BATCH) {
      const slice = all.slice(i, i + BATCH);
      const stored = await Promise.all(slice.map(([key]) => o.state.cas(key, -1, '', 1)));
      slice.forEach(([key, { table, firing, ids: written }], k) => {
        this.groups.delete(key);
        const body = storedBody(String(stored[k]![1]));
        if (body === undefined || !mayHaveLanded(body, written, o.limits.recentIds)) return;
        const ids = storedAlertIds(table, body);
        for (const alert of firing) {
          if (!ids.has(alert.alert_id) || localIds.has(alert.alert_id)) continue;
          o.counts.alertsFired++;
          o.deliver(alert);
          delivered++;
        }
      });
    }
    return delivered;
  }
}

/** A stored group ('' or a text that does not decode: undefined, nothing is delivered). */
function storedBody(stored: string): GroupBody | undefined {
  if (stored === '') return undefined;
  try {
    const body = decodeBody(splitVersion(stored)[1]);
    return typeof body === 'object' && body !== null ? body : undefined;
  } catch {
    // Another version's or a damaged text: the group's own step reports it.
    return undefined;
  }
}

/**
 * Whether the write of `written` (event ids) may have landed: one of them is among the group's
 * recent or pending ids, or its recent ids are full (`recentIds`: they may have been pushed out).
 */
function mayHaveLanded(body: GroupBody, written: ReadonlySet<string>, recentIds: number): boolean {
  const r = Array.isArray(body.r) ? body.r : [];
  if (r.length >= recentIds) return true;
  for (const id of r) if (written.has(id)) return true;
  const q = Array.isArray(body.q) ? body.q : [];
  for (const p of q) {
    const id: unknown = Array.isArray(p) ? (p[2] as { event_id?: unknown } | undefined)?.event_id : undefined;
    if (typeof id === 'string' && written.has(shortId(id))) return true;
  }
  return false;
}

/** The alert ids of a stored group's open incidents. */
function storedAlertIds(table: RuleTable, body: GroupBody): Set<string> {
  const ids = new Set<string>();
  table.rules.forEach((rule, r) => {
    const inc = body.i?.[table.sids[r]!];
    if (inc !== undefined && typeof inc.s === 'number')
      ids.add(alertId(rule.id, rule.groupBy, body.k, inc.s));
  });
  return ids;
}
