import type { SecurityEvent } from '@llmsec/core';
import { keyString, type FieldGetter } from '../fields.ts';
import type { Condition, DistinctCondition, EvidenceSink } from '../types.ts';
import { windowText, type ConditionContext } from './context.ts';

/**
 * At least `min` distinct values of a field in the window. Keeping the `min` most recently seen
 * distinct values (with when each was last seen) is exact: there are `min` distinct values in
 * the window exactly when the least recent of those is still inside it. `min` is small, so
 * plain arrays with a linear scan beat a Map here, in time and in memory.
 */
export interface DistinctState {
  values: string[];
  times: number[];
  ids: string[];
  traces: (string | undefined)[];
}

export function distinctCondition(
  def: DistinctCondition,
  get: FieldGetter,
  ctx: ConditionContext,
): Condition<DistinctState> {
  const { min } = def;
  const windowMs = ctx.windowMs;
  return {
    createState: () => ({ values: [], times: [], ids: [], traces: [] }),
    update(s: DistinctState, event: SecurityEvent, t: number): boolean {
      const value = keyString(get(event));
      if (value !== undefined) {
        const i = s.values.indexOf(value);
        if (i >= 0) remove(s, i);
        s.values.push(value);
        s.times.push(t);
        s.ids.push(event.event_id);
        s.traces.push(event.trace_id);
        if (s.values.length > min) remove(s, 0);
      }
      return s.values.length >= min && s.times[0]! > t - windowMs;
    },
    describe(s: DistinctState, t: number): string {
      const live = s.values.filter((_, i) => s.times[i]! > t - windowMs);
      return `${live.length} distinct ${def.field} values among ${ctx.categories} events within ${windowText(ctx)} (threshold ${min}): ${live.join(', ')}`;
    },
    evidence(s: DistinctState, t: number, out: EvidenceSink): void {
      for (let i = 0; i < s.values.length; i++) {
        if (s.times[i]! > t - windowMs) out(s.ids[i]!, s.traces[i], undefined);
      }
    },
  };
}

function remove(s: DistinctState, i: number): void {
  s.values.splice(i, 1);
  s.times.splice(i, 1);
  s.ids.splice(i, 1);
  s.traces.splice(i, 1);
}
