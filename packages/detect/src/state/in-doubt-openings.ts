import type { Alert } from '@llmsec/core';
import { alertId } from '../incident.ts';
import { decodeBody, type RuleTable } from './group-runner.ts';
import { splitVersion } from './redis-state.ts';
import type { SharedEngineOptions } from './shared-types.ts';

/** Groups whose openings are kept in doubt; past this (a flood of new groups) one more is not. */
const MAX_GROUPS = 1_024;
/** Groups read concurrently when Redis answers again. */
const BATCH = 64;

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
 * store does not hold did not land, and is forgotten (its events went to the fallback, which
 * decides on them). One the fallback opened too (the same alert id among its open incidents) has
 * had its firing line from there, and the hand-back makes the two one.
 */
export class InDoubtOpenings {
  private readonly groups = new Map<string, { table: RuleTable; firing: Alert[] }>();

  get size(): number {
    return this.groups.size;
  }

  /** A group write failed without an answer: its step's firing alerts may have landed. */
  note(key: string, table: RuleTable, alerts: readonly Alert[]): void {
    let firing: Alert[] | undefined;
    for (const a of alerts) if (a.status === 'firing') (firing ??= []).push(a);
    if (firing === undefined) return;
    const known = this.groups.get(key);
    if (known !== undefined) known.firing.push(...firing);
    else if (this.groups.size < MAX_GROUPS) this.groups.set(key, { table, firing });
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
      slice.forEach(([key, { table, firing }], k) => {
        this.groups.delete(key);
        const ids = storedAlertIds(table, String(stored[k]![1]));
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

/** The alert ids of a stored group's open incidents ('' or a text that does not decode: none). */
function storedAlertIds(table: RuleTable, stored: string): Set<string> {
  const ids = new Set<string>();
  if (stored === '') return ids;
  try {
    const body = decodeBody(splitVersion(stored)[1]);
    table.rules.forEach((rule, r) => {
      const inc = body.i?.[table.sids[r]!];
      if (inc !== undefined && typeof inc.s === 'number')
        ids.add(alertId(rule.id, rule.groupBy, body.k, inc.s));
    });
  } catch {
    // Another version's or a damaged text: the group's own step reports it; nothing is delivered.
  }
  return ids;
}
