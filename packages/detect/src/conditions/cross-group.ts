import type { SecurityEvent } from '@llmsec/core';
import { keyString, type FieldGetter } from '../fields.ts';
import { Ring, RingLayout, ringEvidence } from '../ring.ts';
import type { Condition, CrossGroupCondition, EvidenceSink } from '../types.ts';
import { windowText, type ConditionContext } from './context.ts';

/**
 * Many distinct `across` values inside one group (users per payload fingerprint, users per
 * address): the window is a ring of (time, value) and a Map value -> events in the window, so
 * the distinct count is the Map's size. Both are bounded by maxEventsPerWindow, so an attacker
 * inventing values grows neither past it.
 */
export interface CrossGroupState {
  ring: Ring;
  counts: Map<string, number>;
}

/**
 * The distinct values a cross-group rule counted when they are not user ids (`across:
 * source_ip`), for the alert's `across` field. Not part of the public Condition: only rule
 * files' cross_group conditions know which field they count.
 */
export type AcrossValues = (state: unknown, timeMs: number, out: (value: string) => void) => void;

export function crossGroupCondition(
  def: CrossGroupCondition,
  get: FieldGetter,
  ctx: ConditionContext,
): Condition<CrossGroupState> & { across?: AcrossValues } {
  const { min } = def;
  const windowMs = ctx.windowMs;
  const max = Math.max(ctx.maxEventsPerWindow, min);
  const layout = new RingLayout(max, { users: true, traces: true });
  // The ring's value column holds the `across` values: user ids only when across is user_id.
  // Anything else (addresses, keys) must not reach the alert's user_ids, whether through the
  // users list or through the evidence's users: it is reported as the alert's `across` field.
  const acrossUsers = def.across === 'user_id';
  // The campaign rule's text as it always was; other groups say what they are.
  const samePayload = ctx.groupBy === undefined || ctx.groupBy === 'fingerprint';
  const drop = (s: CrossGroupState): void => {
    const value = s.ring.userAt(s.ring.head);
    const c = s.counts.get(value)! - 1;
    if (c === 0) s.counts.delete(value);
    else s.counts.set(value, c);
    s.ring.shift();
  };
  const values = (s: CrossGroupState, _t: number, out: (value: string) => void): void => {
    for (const value of s.counts.keys()) out(value);
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
      const within = `within ${windowText(ctx)} (threshold ${min})`;
      if (samePayload)
        return `the same payload in ${s.ring.size} ${ctx.categories} events from ${s.counts.size} distinct ${def.across} values ${within}`;
      return `${s.counts.size} distinct ${def.across} values in ${s.ring.size} ${ctx.categories} events from one ${ctx.groupBy} ${within}`;
    },
    evidence(s: CrossGroupState, _t: number, out: EvidenceSink): void {
      if (acrossUsers) ringEvidence(s.ring, 5, out);
      else ringEvidence(s.ring, 5, (id, trace) => out(id, trace, undefined));
    },
    ...(acrossUsers ? { users: values } : { across: values as AcrossValues }),
  };
}
