import type { Alert } from '@llmsec/core';
import type { Timed } from './redis-support.ts';

/**
 * Splitting one stream across several engines, for the multi-engine tests.
 *
 * The stream is cut into rounds; every engine ingests its share of a round, then all flush
 * before the next round. A round never spans more than the allowed lateness (each event is at
 * most `latenessMs` older than the newest event up to the round's end), so no event becomes
 * late merely because another engine shipped a later event of the same round first: that is
 * the real-world condition "events reach Redis within the allowed lateness".
 */
export function rounds(events: Timed[], latenessMs: number): Timed[][] {
  const out: Timed[][] = [];
  let cur: Timed[] = [];
  let curMin = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const e of events) {
    const nextMin = Math.min(curMin, e.t);
    const nextMax = Math.max(max, e.t);
    if (cur.length > 0 && nextMin < nextMax - latenessMs) {
      out.push(cur);
      cur = [];
      curMin = Number.POSITIVE_INFINITY;
    }
    cur.push(e);
    curMin = Math.min(curMin, e.t);
    max = Math.max(max, e.t);
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Distinct times (ties across engines would be ordered by arrival at Redis). */
export function untie(events: Timed[]): Timed[] {
  return events.map(({ event, t }, i) => {
    const u = t + (i % 1000);
    return { event: { ...event, timestamp: new Date(u).toISOString() }, t: u };
  });
}

/** Exactly one firing line per alert id, and at most one resolved line, resolved after firing. */
export function incidentLines(alerts: Alert[]): { ok: boolean; problems: string[] } {
  const seen = new Map<string, string[]>();
  for (const a of alerts) {
    const list = seen.get(a.alert_id) ?? [];
    list.push(a.status);
    seen.set(a.alert_id, list);
  }
  const problems: string[] = [];
  for (const [id, list] of seen) {
    const s = list.join(',');
    if (s !== 'firing' && s !== 'firing,resolved') problems.push(`${id}: ${s}`);
  }
  return { ok: problems.length === 0, problems };
}
