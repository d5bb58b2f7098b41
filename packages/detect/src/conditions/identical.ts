import type { SecurityEvent } from '@llmsec/core';
import { magnitude, type FieldGetter } from '../fields.ts';
import { Ring, RingLayout } from '../ring.ts';
import type { Condition, IdenticalCondition } from '../types.ts';
import { windowText, type ConditionContext } from './context.ts';

/**
 * Every event of the window carries the same positive value, and there are at least
 * `min_events`. Equivalent, and O(1): the current run of equal values holds `min_events`
 * inside the window, and the last event before the run (`breakAt`) has left the window.
 * The ring keeps only the times of the newest `min_events` events of the run; the evidence is
 * the events at which the condition held.
 */
export interface IdenticalState {
  ring: Ring;
  value: number;
  breakAt: number;
  prevAt: number;
}

export function identicalCondition(
  def: IdenticalCondition,
  get: FieldGetter,
  ctx: ConditionContext,
): Condition<IdenticalState> {
  const minEvents = def.min_events;
  const windowMs = ctx.windowMs;
  const layout = new RingLayout(minEvents, { ids: false });
  return {
    createState: () => ({
      ring: new Ring(layout),
      value: Number.NaN,
      breakAt: Number.NEGATIVE_INFINITY,
      prevAt: Number.NEGATIVE_INFINITY,
    }),
    update(s: IdenticalState, event: SecurityEvent, t: number): boolean {
      const raw = get(event);
      const v = typeof raw === 'number' ? magnitude(raw) : 0;
      if (v <= 0) {
        // An event without a usable value is in the window too, so it breaks the run.
        s.value = Number.NaN;
        s.breakAt = t;
        s.ring.clear();
      } else if (v !== s.value) {
        s.breakAt = s.prevAt;
        s.value = v;
        s.ring.clear();
        s.ring.push(t, event.event_id, event.trace_id, 0);
      } else {
        s.ring.push(t, event.event_id, event.trace_id, 0);
      }
      s.prevAt = t;
      const cutoff = t - windowMs;
      return s.ring.size >= minEvents && s.breakAt <= cutoff && s.ring.oldestTime() > cutoff;
    },
    describe(s: IdenticalState): string {
      return `at least ${s.ring.size} ${ctx.categories} events within ${windowText(ctx)}, all with ${def.field}=${s.value} (threshold ${minEvents})`;
    },
  };
}
