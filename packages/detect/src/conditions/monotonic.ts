import type { SecurityEvent } from '@llmsec/core';
import { magnitude, type FieldGetter } from '../fields.ts';
import { Ring, RingLayout, ringEvidence } from '../ring.ts';
import type { Condition, EvidenceSink, MonotonicCondition } from '../types.ts';
import { windowText, type ConditionContext } from './context.ts';
import { repeatsPrevious } from './repeats.ts';

/**
 * A growing sequence: the last `last` steps of the window (all of them without `last`) never
 * decrease and the newest exceeds `factor` times the first.
 *
 * A step is a valued event whose value differs from the one before it in the window: a repeat
 * of the previous value is not a step, so it neither counts toward `min_events` / `last` nor
 * breaks the sequence (repeats.ts); it stands in for the newest entry (its time and event), so
 * the step stays in the window as long as its last repeat does. Counted as steps, fixed quick replies ("yes", "yes", "yes",
 * ...) made a non-decreasing run of six, and one paste 3x longer fired escalating_length. Not
 * breaking the sequence either: were a repeat a decrease, a stuffer repeating each length once
 * between real increases would never be caught; as it is not a step, their repeats are
 * invisible and the increases are judged as if sent back to back. Instead of
 * re-checking the sequence, the state carries `run`, the length of the non-decreasing suffix of
 * everything seen so far: the last m values never decrease exactly when run >= m. The state is
 * the window's ring with `run` and `prev` beside it, one object (state/codec.ts writes it as
 * { ring, run, prev }).
 */
export class MonotonicState extends Ring {
  run = 0;
  prev = 0;
}

export function monotonicCondition(
  def: MonotonicCondition,
  getters: FieldGetter[],
  ctx: ConditionContext,
): Condition<MonotonicState> {
  const { min_events: minEvents, factor } = def;
  const last = def.last ?? Number.POSITIVE_INFINITY;
  const windowMs = ctx.windowMs;
  // With `last`, only max(last, min_events) values can matter; without it, the whole window.
  const max =
    def.last !== undefined ? Math.max(def.last, minEvents) : Math.max(ctx.maxEventsPerWindow, minEvents);
  // Trace ids too: an alert's trace_ids are those of its evidence, which is this window. A rule
  // grouped by something other than the user keeps each entry's user: the alert names the users
  // of its evidence, as count does (per-user rules keep no such column).
  const keepUsers = ctx.groupBy !== undefined && ctx.groupBy !== 'user_id';
  const layout = new RingLayout(max, { values: true, traces: true, users: keepUsers });
  const valueOf = (event: SecurityEvent): number => {
    for (const get of getters) {
      const v = magnitude(get(event));
      if (v > 0) return v;
    }
    return 0;
  };
  /** The sequence length the condition judges at time t (after expiry). */
  const seqLength = (s: MonotonicState): number => Math.min(last, s.size);
  return {
    createState: () => new MonotonicState(layout),
    update(s: MonotonicState, event: SecurityEvent, t: number): boolean {
      const cutoff = t - windowMs;
      while (s.size > 0 && s.oldestTime() <= cutoff) s.shift();
      const v = valueOf(event);
      if (v > 0 && repeatsPrevious(s.size, s.prev, v))
        s.replaceNewest(t, event.event_id, event.trace_id, keepUsers ? event.user_id : undefined);
      else if (v > 0) {
        s.run = s.run > 0 && v >= s.prev ? s.run + 1 : 1;
        s.prev = v;
        s.push(t, event.event_id, event.trace_id, v, keepUsers ? event.user_id : undefined);
      }
      const n = s.size;
      if (n < minEvents || n === 0) return false;
      const m = seqLength(s);
      if (s.run < m) return false;
      return s.valueAt(s.newestIndex()) > factor * s.valueAt(s.at(n - m));
    },
    describe(s: MonotonicState): string {
      const m = seqLength(s);
      const seq: number[] = [];
      for (let k = s.size - m; k < s.size; k++) seq.push(s.valueAt(s.at(k)));
      return `${m} ${ctx.categories} events within ${windowText(ctx)} grow in steps without decreasing from ${seq[0]} to ${seq[seq.length - 1]} (more than ${factor}x; at least ${minEvents} events): ${seq.join(' ')}`;
    },
    evidence(s: MonotonicState, _t: number, out: EvidenceSink): void {
      ringEvidence(s, 5, out);
    },
  };
}
