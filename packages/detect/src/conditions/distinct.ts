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
  /**
   * The user of each entry, only when the rule is not grouped by user_id (the alert names the
   * users of its evidence). Absent in per-user rules, and in states an earlier version stored:
   * then rebuilt as '' (no user) for the entries it has.
   */
  users?: string[];
}

export function distinctCondition(
  def: DistinctCondition,
  get: FieldGetter,
  ctx: ConditionContext,
): Condition<DistinctState> {
  const { min } = def;
  const windowMs = ctx.windowMs;
  const keepUsers = ctx.groupBy !== undefined && ctx.groupBy !== 'user_id';
  /** The users column, parallel to the values (a stored state without it gets one of ''). */
  const usersOf = (s: DistinctState): string[] => {
    if (s.users === undefined || s.users.length !== s.values.length) s.users = s.values.map(() => '');
    return s.users;
  };
  return {
    createState: () => ({ values: [], times: [], ids: [], traces: [] }),
    update(s: DistinctState, event: SecurityEvent, t: number): boolean {
      const value = keyString(get(event));
      if (value !== undefined) {
        const values = s.values;
        let i = values.indexOf(value);
        if (i < 0 && values.length >= min) i = 0; // a new value pushes out the least recent
        const users = keepUsers ? usersOf(s) : undefined;
        if (i < 0) {
          // Copies one longer, not push: see `appended`.
          s.values = appended(values, value);
          s.times = appended(s.times, t);
          s.ids = appended(s.ids, event.event_id);
          s.traces = appended(s.traces, event.trace_id);
          if (users) s.users = appended(users, event.user_id);
        } else {
          // Move entries after i one to the left and put this one last: no allocation.
          const last = values.length - 1;
          for (let j = i; j < last; j++) {
            values[j] = values[j + 1]!;
            s.times[j] = s.times[j + 1]!;
            s.ids[j] = s.ids[j + 1]!;
            s.traces[j] = s.traces[j + 1];
            if (users) users[j] = users[j + 1]!;
          }
          values[last] = value;
          s.times[last] = t;
          s.ids[last] = event.event_id;
          s.traces[last] = event.trace_id;
          if (users) users[last] = event.user_id;
        }
      }
      return s.values.length >= min && s.times[0]! > t - windowMs;
    },
    describe(s: DistinctState, t: number): string {
      const live = s.values.filter((_, i) => s.times[i]! > t - windowMs);
      return `${live.length} distinct ${def.field} values among ${ctx.categories} events within ${windowText(ctx)} (threshold ${min}): ${live.join(', ')}`;
    },
    evidence(s: DistinctState, t: number, out: EvidenceSink): void {
      for (let i = 0; i < s.values.length; i++) {
        if (s.times[i]! > t - windowMs) out(s.ids[i]!, s.traces[i], s.users?.[i] || undefined);
      }
    },
  };
}

/**
 * `list` and then `item`, in a new array of exactly that length. A state's columns grow only
 * while it holds fewer than `min` values (then an entry is replaced in place), so each column is
 * copied at most `min` times in the state's life, and it keeps no slack: V8 grows a pushed array
 * from empty to 17 slots, so systematic_enumeration's state (min 3) held four arrays of 17
 * (about 700 B per blocked user, a quarter of the heap a group took at 100,000 users of the
 * replay mix, issue 13) where these hold 3 each.
 */
function appended<T>(list: T[], item: T): T[] {
  const n = list.length;
  const out = new Array<T>(n + 1);
  for (let k = 0; k < n; k++) out[k] = list[k]!;
  out[n] = item;
  return out;
}
