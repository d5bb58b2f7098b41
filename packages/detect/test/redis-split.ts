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

/**
 * Exactly one firing line per alert id and at most one resolved line (counted, not ordered:
 * lines from several processes are concatenated per process).
 */
export function incidentLines(alerts: Alert[]): { ok: boolean; problems: string[] } {
  const seen = new Map<string, { firing: number; resolved: number }>();
  for (const a of alerts) {
    const c = seen.get(a.alert_id) ?? { firing: 0, resolved: 0 };
    c[a.status]++;
    seen.set(a.alert_id, c);
  }
  const problems: string[] = [];
  for (const [id, c] of seen) {
    if (c.firing !== 1 || c.resolved > 1) problems.push(`${id}: ${c.firing} firing, ${c.resolved} resolved`);
  }
  return { ok: problems.length === 0, problems };
}
