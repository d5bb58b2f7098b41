import type { SlabRule } from './slab-rule.ts';

/**
 * The slab of one group table: a row per group (row index = the group's index in the table)
 * of `numStride` doubles in one Float64Array, a row of `strStride` strings in a plain array
 * beside it (event ids and the like, written on the hot path and read only when an incident
 * opens), and a row of `spillStride` object states for windows that outgrew their inline ring.
 * Rows are allocated as the table grows (capacity doubles, up to the table's cap); a new or
 * evicted row is reset from a template row written once by the rules' `init`.
 */
export class SlabStore {
  nums: Float64Array;
  readonly numStride: number;
  readonly strs: (string | undefined)[] = [];
  readonly strStride: number;
  readonly spills: unknown[] = [];
  readonly spillStride: number;
  private readonly template: Float64Array;
  private capacity: number;
  private readonly maxRows: number;

  constructor(rules: SlabRule[], maxRows: number) {
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
    this.maxRows = maxRows;
    this.capacity = Math.min(maxRows, 64);
    this.nums = new Float64Array(this.capacity * num);
  }

  /** Makes row g (g <= the rows so far: rows are added in order) fresh: the template, no strings, no spills. */
  reset(g: number, isNew: boolean): void {
    if (g >= this.capacity) this.grow();
    this.nums.set(this.template, g * this.numStride);
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

  private grow(): void {
    this.capacity = Math.min(this.maxRows, this.capacity * 2);
    const nums = new Float64Array(this.capacity * this.numStride);
    nums.set(this.nums);
    this.nums = nums;
  }
}
