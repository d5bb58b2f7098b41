import type { SecurityEvent } from '@llmsec/core';
import type { FieldGetter } from '../fields.ts';
import type { BaselineCondition, Condition, EvidenceSink } from '../types.ts';
import { rememberLast, type ConditionContext, type LastEvent } from './context.ts';

/**
 * A value far above the group's own history: above `factor` x the running mean and above
 * mean + `sigmas` standard deviations (population), with at least `min_samples` earlier
 * events. Welford's running mean and variance: O(1) time and three numbers of state. The
 * event is judged against the baseline *before* it joins it.
 */
export interface BaselineState extends LastEvent {
  n: number;
  mean: number;
  m2: number;
  lastValue: number;
}

export function baselineCondition(
  def: BaselineCondition,
  getters: FieldGetter[],
  ctx: ConditionContext,
): Condition<BaselineState> {
  const { factor, sigmas, min_samples: minSamples } = def;
  return {
    createState: () => ({
      n: 0,
      mean: 0,
      m2: 0,
      lastValue: 0,
      lastId: '',
      lastTrace: undefined,
      lastUser: '',
    }),
    update(s: BaselineState, event: SecurityEvent, _t: number): boolean {
      let v = 0;
      let seen = false;
      for (const get of getters) {
        const x = get(event);
        if (typeof x === 'number' && Number.isFinite(x)) {
          v += x;
          seen = true;
        }
      }
      if (!seen) return false;
      rememberLast(s, event);
      s.lastValue = v;
      const std = s.n > 0 ? Math.sqrt(s.m2 / s.n) : 0;
      const anomalous = s.n >= minSamples && v > factor * s.mean && v > s.mean + sigmas * std;
      s.n++;
      const delta = v - s.mean;
      s.mean += delta / s.n;
      s.m2 += delta * (v - s.mean);
      return anomalous;
    },
    describe(s: BaselineState): string {
      // The baseline the event was judged against: Welford's update undone (figures only).
      const n = s.n - 1;
      const v = s.lastValue;
      const mean = n > 0 ? (s.mean * s.n - v) / n : 0;
      const m2 = Math.max(0, s.m2 - (v - mean) * (v - s.mean));
      const std = n > 0 ? Math.sqrt(m2 / n) : 0;
      return `${ctx.categories} with ${def.sum.join('+')}=${v}, above ${factor}x the group's mean ${round(mean)} and mean+${sigmas}σ ${round(mean + sigmas * std)} over ${n} earlier events`;
    },
    evidence(s: BaselineState, _t: number, out: EvidenceSink): void {
      out(s.lastId, s.lastTrace, s.lastUser);
    },
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
