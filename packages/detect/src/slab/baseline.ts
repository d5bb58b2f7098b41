import type { SecurityEvent } from '@llmsec/core';
import type { BaselineState } from '../conditions/baseline.ts';
import type { FieldGetter } from '../fields.ts';
import type { BaselineCondition, Condition } from '../types.ts';
import { rememberLast } from '../conditions/context.ts';
import type { SlabRule } from './slab-rule.ts';
import type { SlabStore } from './slab-store.ts';

// Region layout: n, mean, m2, lastValue. No strings: the last valued event's id, trace and
// user (the evidence) are those of the event that made the condition hold, the only time the
// state is read, so they come from that event (see `state`) instead of three string writes
// into the string row per event (a cache line each request, and with fresh events a young
// string kept alive by an old array: remembered-set entries and a promotion per string).
const MEAN = 1;
const M2 = 2;
const LAST_VALUE = 3;
const WIDTH = 4;

/**
 * conditions/baseline.ts on the slab: Welford's running mean and variance, four doubles, the
 * same arithmetic in the same order (so the same bits); nothing to spill, no strings.
 */
export class SlabBaseline implements SlabRule {
  readonly numWidth = WIDTH;
  readonly strWidth = 0;
  readonly scalarWidth = WIDTH;
  readonly spills = false;
  private laneIx = 0;
  private numAt = 0;
  feed = '';
  lane = '';
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

  place(lane: number, numAt: number, _ringAt: number, _strAt: number, _spillAt: number): void {
    this.laneIx = lane;
    this.numAt = numAt;
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
    const lane = store.lanes[this.laneIx]!;
    const row = lane.row(g);
    const nums = lane.pageOf(row);
    const at = lane.offsetOf(row);
    const o = at + this.numAt;
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

  state(store: SlabStore, g: number, event?: SecurityEvent): BaselineState {
    const nums = store.page(this.laneIx, g);
    const at = store.rowAt(this.laneIx, g);
    const o = at + this.numAt;
    const s = this.condition.createState();
    s.n = nums[o]!;
    s.mean = nums[o + MEAN]!;
    s.m2 = nums[o + M2]!;
    s.lastValue = nums[o + LAST_VALUE]!;
    // Read only right after the update that made the condition hold, which was a valued event:
    // the object state's last valued event is that one.
    if (event !== undefined) rememberLast(s, event);
    return s;
  }
}
