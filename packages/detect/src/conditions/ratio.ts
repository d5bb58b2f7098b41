import type { SecurityEvent } from '@llmsec/core';
import { sameScalar, type FieldGetter } from '../fields.ts';
import { Ring, RingLayout } from '../ring.ts';
import type { Condition, RatioCondition } from '../types.ts';
import { windowText, type ConditionContext } from './context.ts';

/**
 * At least `min_events` in the window and more than `above` of them flagged. The window is a
 * ring of (time, flag) with a running count of flags: each event is pushed once and expired
 * once, so O(1) amortised. Event ids are not kept (request windows are the bulk of per-user
 * memory): the evidence is the events at which the condition held. The state is the ring
 * itself with the count beside it, one object (state/codec.ts writes it as { ring, hits }).
 */
export class RatioState extends Ring {
  hits = 0;
}

export function ratioCondition(
  def: RatioCondition,
  get: FieldGetter,
  ctx: ConditionContext,
): Condition<RatioState> {
  const want = def.equals ?? true;
  const wantText = String(want);
  const { min_events: minEvents, above } = def;
  const windowMs = ctx.windowMs;
  const max = Math.max(ctx.maxEventsPerWindow, minEvents);
  const layout = new RingLayout(max, { values: true, ids: false });
  return {
    createState: () => new RatioState(layout),
    update(s: RatioState, event: SecurityEvent, t: number): boolean {
      const cutoff = t - windowMs;
      while (s.size > 0 && (s.oldestTime() <= cutoff || s.full)) {
        s.hits -= s.valueAt(s.head);
        s.shift();
      }
      // As where's equals: the string 'true' is true (sameScalar).
      const flag = sameScalar(get(event), want, wantText) ? 1 : 0;
      s.push(t, event.event_id, event.trace_id, flag);
      s.hits += flag;
      return s.size >= minEvents && s.hits > above * s.size;
    },
    describe(s: RatioState): string {
      const pct = Math.round((100 * s.hits) / s.size);
      return `${s.hits} of ${s.size} ${ctx.categories} events within ${windowText(ctx)} have ${def.field}=${String(want)} (${pct}%, threshold above ${Math.round(above * 100)}% of at least ${minEvents})`;
    },
  };
}
