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
 * the events at which the condition held. The state is that ring with the run's fields beside
 * it, one object (state/codec.ts writes it as { ring, value, breakAt, prevAt }).
 */
export class IdenticalState extends Ring {
  value = Number.NaN;
  breakAt = Number.NEGATIVE_INFINITY;
  prevAt = Number.NEGATIVE_INFINITY;
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
    createState: () => new IdenticalState(layout),
    update(s: IdenticalState, event: SecurityEvent, t: number): boolean {
      const raw = get(event);
      const v = typeof raw === 'number' ? magnitude(raw) : 0;
      if (v <= 0) {
        // An event without a usable value is in the window too, so it breaks the run.
        s.value = Number.NaN;
        s.breakAt = t;
        s.clear();
      } else if (v !== s.value) {
        s.breakAt = s.prevAt;
        s.value = v;
        s.clear();
        s.push(t, event.event_id, event.trace_id, 0);
      } else {
        s.push(t, event.event_id, event.trace_id, 0);
      }
      s.prevAt = t;
      const cutoff = t - windowMs;
      return s.size >= minEvents && s.breakAt <= cutoff && s.oldestTime() > cutoff;
    },
    describe(s: IdenticalState): string {
      return `at least ${s.size} ${ctx.categories} events within ${windowText(ctx)}, all with ${def.field}=${s.value} (threshold ${minEvents})`;
    },
  };
}
