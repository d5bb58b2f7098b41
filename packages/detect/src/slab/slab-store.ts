import type { SlabRule } from './slab-rule.ts';

/**
 * The slab of one group table: a row per group (row index = the group's index in the table)
 * of `numStride` doubles in one array, a row of `strStride` strings in a plain array beside
 * it (event ids and the like, written on the hot path and read only when an incident opens),
 * and a row of `spillStride` object states for windows that outgrew their inline ring. Rows
 * are appended as the table grows (to its cap); a new or evicted row is reset from a template
 * row written once by the rules' `init`.
 *
 * The doubles are a plain array (V8 keeps a number-only array as unboxed doubles, contiguous,
 * indexed as fast as a Float64Array), not a Float64Array: a typed array's storage is memory
 * outside the JS heap, and growing it by copying (42 MB at 100,000 groups, 84 MB allocated on
 * the way) made V8 run full mark-compact collections for the external memory, each walking
 * the whole heap (450 ms with the benchmark's 500 MB of events: ~900 ns per event of GC at
 * 100,000 users, against ~250 with the plain array; bench/detect/profile-engine.ts).
 */
export class SlabStore {
  readonly nums: number[] = [];
  readonly numStride: number;
  readonly strs: (string | undefined)[] = [];
  readonly strStride: number;
  readonly spills: unknown[] = [];
  readonly spillStride: number;
  private readonly template: Float64Array;

  constructor(rules: SlabRule[]) {
    let num = 0;
    let str = 0;
    let spill = 0;
    const at: number[] = [];
    for (const rule of rules) {
      rule.place(num, str, spill);
      at.push(num);
      num += rule.numWidth;
      str += rule.strWidth;
      if (rule.spills) spill++;
    }
    this.numStride = num;
    this.strStride = str;
    this.spillStride = spill;
    this.template = new Float64Array(num);
    rules.forEach((rule, i) => rule.init(this.template, at[i]!));
  }

  /** Makes row g (g <= the rows so far: rows are added in order) fresh: the template, no strings, no spills. */
  reset(g: number, isNew: boolean): void {
    const nums = this.nums;
    const template = this.template;
    const numStride = this.numStride;
    if (isNew) for (let i = 0; i < numStride; i++) nums.push(template[i]!);
    else for (let i = 0, o = g * numStride; i < numStride; i++) nums[o + i] = template[i]!;
    const strStride = this.strStride;
    const spillStride = this.spillStride;
    if (isNew) {
      for (let i = 0; i < strStride; i++) this.strs.push(undefined);
      for (let i = 0; i < spillStride; i++) this.spills.push(undefined);
      return;
    }
    this.strs.fill(undefined, g * strStride, (g + 1) * strStride);
    this.spills.fill(undefined, g * spillStride, (g + 1) * spillStride);
  }
}
