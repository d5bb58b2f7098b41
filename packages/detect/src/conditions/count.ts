import type { SecurityEvent } from '@llmsec/core';
import { Ring, RingLayout, ringEvidence } from '../ring.ts';
import type { Condition, CountCondition, EvidenceSink } from '../types.ts';
import { windowText, type ConditionContext } from './context.ts';

/**
 * At least `min` events in the window. Only the newest `min` event times matter: the count
 * reaches `min` exactly when the min-th newest event is still inside the window. So the state
 * is a ring of `min` entries, O(1) per event, and nothing else. A rule grouped by something
 * other than the user (`group_by: source_ip`) keeps each entry's user too: the alert names the
 * users of its evidence (openIncident), not only the one whose event fired it. Per-user rules
 * (the group is the user) keep no such column.
 */
export function countCondition(def: CountCondition, ctx: ConditionContext): Condition<Ring> {
  const { min } = def;
  const windowMs = ctx.windowMs;
  const keepUsers = ctx.groupBy !== undefined && ctx.groupBy !== 'user_id';
  const layout = new RingLayout(min, { traces: true, users: keepUsers });
  return {
    createState: () => new Ring(layout),
    update(ring: Ring, event: SecurityEvent, t: number): boolean {
      ring.push(t, event.event_id, event.trace_id, 0, keepUsers ? event.user_id : undefined);
      return ring.size >= min && ring.oldestTime() > t - windowMs;
    },
    describe(ring: Ring, t: number): string {
      return `${inWindow(ring, t, windowMs)} ${ctx.categories} events within ${windowText(ctx)} (threshold ${min})`;
    },
    evidence(ring: Ring, t: number, out: EvidenceSink): void {
      dropExpired(ring, t, windowMs);
      ringEvidence(ring, 5, out);
    },
  };
}

export function inWindow(ring: Ring, t: number, windowMs: number): number {
  let n = 0;
  for (let k = ring.size - 1; k >= 0 && ring.timeAt(ring.at(k)) > t - windowMs; k--) n++;
  return n;
}

export function dropExpired(ring: Ring, t: number, windowMs: number): void {
  const cutoff = t - windowMs;
  while (ring.size > 0 && ring.oldestTime() <= cutoff) ring.shift();
}
