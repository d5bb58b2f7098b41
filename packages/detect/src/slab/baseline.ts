import type { SecurityEvent } from '@llmsec/core';
import type { BaselineState } from '../conditions/baseline.ts';
import type { FieldGetter } from '../fields.ts';
import type { BaselineCondition, Condition } from '../types.ts';
import type { SlabRule } from './slab-rule.ts';
import type { SlabStore } from './slab-store.ts';

// Region layout: n, mean, m2, lastValue; strings: the last valued event's id, trace, user.
const MEAN = 1;
const M2 = 2;
const LAST_VALUE = 3;
const WIDTH = 4;

/**
 * conditions/baseline.ts on the slab: Welford's running mean and variance, four doubles, the
 * same arithmetic in the same order (so the same bits); nothing to spill.
 */
export class SlabBaseline implements SlabRule {
  readonly numWidth = WIDTH;
  readonly strWidth = 3;
  readonly spills = false;
  private numAt = 0;
  private strAt = 0;
  private readonly factor: number;
  private readonly sigmas: number;
  private readonly minSamples: number;
  private readonly getters: FieldGetter[];
  private readonly condition: Condition<BaselineState>;

  constructor(def: BaselineCondition, getters: FieldGetter[], condition: Condition<BaselineState>) {
    this.getters = getters;
    this.condition = condition;
    this.factor = def.factor;
    this.sigmas = def.sigmas;
    this.minSamples = def.min_samples;
  }

  place(numAt: number, strAt: number, _spillAt: number): void {
    this.numAt = numAt;
    this.strAt = strAt;
  }

  init(_row: Float64Array, _at: number): void {
    // All four start at 0.
  }

  update(store: SlabStore, g: number, event: SecurityEvent, _t: number): boolean {
    const getters = this.getters;
    let v = 0;
    let seen = false;
    for (let i = 0; i < getters.length; i++) {
      const x = getters[i]!(event);
      if (typeof x === 'number' && Number.isFinite(x)) {
        v += x;
        seen = true;
      }
    }
    if (!seen) return false;
    const strs = store.strPage(g);
    const so = store.strRowAt(g) + this.strAt;
    strs[so] = event.event_id;
    strs[so + 1] = event.trace_id;
    strs[so + 2] = event.user_id;
    const nums = store.page(g);
    const o = store.rowAt(g) + this.numAt;
    let n = nums[o]!;
    let mean = nums[o + MEAN]!;
    const m2 = nums[o + M2]!;
    nums[o + LAST_VALUE] = v;
    const std = n > 0 ? Math.sqrt(m2 / n) : 0;
    const anomalous = n >= this.minSamples && v > this.factor * mean && v > mean + this.sigmas * std;
    n++;
    const delta = v - mean;
    mean += delta / n;
    nums[o] = n;
    nums[o + MEAN] = mean;
    nums[o + M2] = m2 + delta * (v - mean);
    return anomalous;
  }

  state(store: SlabStore, g: number): BaselineState {
    const nums = store.page(g);
    const o = store.rowAt(g) + this.numAt;
    const so = store.strRowAt(g) + this.strAt;
    const s = this.condition.createState();
    s.n = nums[o]!;
    s.mean = nums[o + MEAN]!;
    s.m2 = nums[o + M2]!;
    s.lastValue = nums[o + LAST_VALUE]!;
    // Written by the update that made the condition hold (state is read only then).
    s.lastId = store.strPage(g)[so] as string;
    s.lastTrace = store.strPage(g)[so + 1];
    s.lastUser = store.strPage(g)[so + 2] as string;
    return s;
  }
}
