import type { SecurityEvent } from '@llmsec/core';
import { keyString, type FieldGetter } from '../fields.ts';
import { Ring, RingLayout, ringEvidence } from '../ring.ts';
import type { Condition, CrossGroupCondition, EvidenceSink } from '../types.ts';
import { windowText, type ConditionContext } from './context.ts';

/**
 * Many distinct `across` values (users) inside one group (a payload fingerprint): the window is
 * a ring of (time, user) and a Map user -> events in the window, so the distinct count is the
 * Map's size. Both are bounded by maxEventsPerWindow; the users are what the alert names.
 */
export interface CrossGroupState {
  ring: Ring;
  counts: Map<string, number>;
}

export function crossGroupCondition(
  def: CrossGroupCondition,
  get: FieldGetter,
  ctx: ConditionContext,
): Condition<CrossGroupState> {
  const { min } = def;
  const windowMs = ctx.windowMs;
  const max = Math.max(ctx.maxEventsPerWindow, min);
  const layout = new RingLayout(max, { users: true, traces: true });
  const drop = (s: CrossGroupState): void => {
    const user = s.ring.userAt(s.ring.head);
    const c = s.counts.get(user)! - 1;
    if (c === 0) s.counts.delete(user);
    else s.counts.set(user, c);
    s.ring.shift();
  };
  return {
    createState: () => ({ ring: new Ring(layout), counts: new Map() }),
    update(s: CrossGroupState, event: SecurityEvent, t: number): boolean {
      const ring = s.ring;
      const cutoff = t - windowMs;
      while (ring.size > 0 && ring.oldestTime() <= cutoff) drop(s);
      const who = keyString(get(event));
      if (who !== undefined) {
        if (ring.full) drop(s);
        ring.push(t, event.event_id, event.trace_id, 0, who);
        s.counts.set(who, (s.counts.get(who) ?? 0) + 1);
      }
      return s.counts.size >= min;
    },
    describe(s: CrossGroupState): string {
      return `the same payload in ${s.ring.size} ${ctx.categories} events from ${s.counts.size} distinct ${def.across} values within ${windowText(ctx)} (threshold ${min})`;
    },
    evidence(s: CrossGroupState, _t: number, out: EvidenceSink): void {
      ringEvidence(s.ring, 5, out);
    },
    users(s: CrossGroupState, _t: number, out: (user: string) => void): void {
      for (const user of s.counts.keys()) out(user);
    },
  };
}
