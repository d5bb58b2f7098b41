import type { SecurityEvent } from '@llmsec/core';
import type { IdenticalState } from '../conditions/identical.ts';
import { magnitude, type FieldGetter } from '../fields.ts';
import type { Condition, IdenticalCondition } from '../types.ts';
import { SPILLED, type SlabRule } from './slab-rule.ts';
import type { SlabStore } from './slab-store.ts';

// Region layout: the scalars size, head, value, breakAt, prevAt; the ring (elsewhere in the
// row, see SlabStore): `cap` entry times.
const HEAD = 1;
const VALUE = 2;
const BREAK_AT = 3;
const PREV_AT = 4;
const SCALARS = 5;

/**
 * conditions/identical.ts on the slab: the run's value, the time of the event before it
 * (breakAt), the previous event's time, and the times of the run's newest `min_events`
 * events in an inline ring. With `min_events` above the inline ring a long run spills into
 * the object condition's IdenticalState, and returns inline when the run breaks.
 */
export class SlabIdentical implements SlabRule {
  readonly numWidth: number;
  readonly scalarWidth = SCALARS;
  readonly strWidth = 0;
  readonly spills = true;
  private laneIx = 0;
  private numAt = 0;
  private ringAt = 0;
  feed = '';
  lane = '';
  private spillAt = 0;
  private readonly cap: number;
  private readonly minEvents: number;
  private readonly get: FieldGetter;
  private readonly windowMs: number;
  private readonly condition: Condition<IdenticalState>;

  constructor(
    def: IdenticalCondition,
    get: FieldGetter,
    windowMs: number,
    condition: Condition<IdenticalState>,
    inline: number,
  ) {
    this.get = get;
    this.windowMs = windowMs;
    this.condition = condition;
    this.minEvents = def.min_events;
    // The object ring keeps min_events times (at least one).
    this.cap = Math.max(1, Math.min(def.min_events, inline));
    this.numWidth = SCALARS + this.cap;
  }

  /** The object ring's cap: when the inline ring has it too, a full ring drops its oldest. */
  private get max(): number {
    return Math.max(1, this.minEvents);
  }

  place(lane: number, numAt: number, ringAt: number, _strAt: number, spillAt: number): void {
    this.laneIx = lane;
    this.numAt = numAt;
    this.ringAt = ringAt;
    this.spillAt = spillAt;
  }

  init(row: Float64Array, at: number): void {
    row[at + VALUE] = Number.NaN;
    row[at + BREAK_AT] = Number.NEGATIVE_INFINITY;
    row[at + PREV_AT] = Number.NEGATIVE_INFINITY;
  }

  update(store: SlabStore, g: number, event: SecurityEvent, t: number): boolean {
    const lane = store.lanes[this.laneIx]!;
    const row = lane.row(g);
    const nums = lane.pageOf(row);
    const at = lane.offsetOf(row);
    const o = at + this.numAt;
    let size = nums[o]!;
    if (size === SPILLED) return this.spilledUpdate(store, g, event, t);
    let head = nums[o + HEAD]!;
    const cap = this.cap;
    const e = at + this.ringAt;
    const raw = this.get(event);
    const v = typeof raw === 'number' ? magnitude(raw) : 0;
    if (v <= 0) {
      // An event without a usable value is in the window too, so it breaks the run.
      nums[o + VALUE] = Number.NaN;
      nums[o + BREAK_AT] = t;
      size = 0;
      head = 0;
    } else if (v !== nums[o + VALUE]) {
      nums[o + BREAK_AT] = nums[o + PREV_AT]!;
      nums[o + VALUE] = v;
      nums[e] = t;
      size = 1;
      head = 0;
    } else {
      if (size === cap) {
        if (cap < this.max) {
          // The run outgrows the inline ring: the object state takes over (nothing written yet).
          const s = this.state(store, g);
          nums[o] = SPILLED;
          store.setSpill(g, this.spillAt, s);
          return this.condition.update(s, event, t);
        }
        // Full at the object ring's cap too: the oldest time goes, as Ring.push does.
        head = head + 1 === cap ? 0 : head + 1;
        size--;
      }
      let p = head + size;
      if (p >= cap) p -= cap;
      nums[e + p] = t;
      size++;
    }
    nums[o] = size;
    nums[o + HEAD] = head;
    nums[o + PREV_AT] = t;
    const cutoff = t - this.windowMs;
    return size >= this.minEvents && nums[o + BREAK_AT]! <= cutoff && nums[e + head]! > cutoff;
  }

  state(store: SlabStore, g: number): IdenticalState {
    const nums = store.page(this.laneIx, g);
    const at = store.rowAt(this.laneIx, g);
    const o = at + this.numAt;
    const r = at + this.ringAt;
    if (nums[o] === SPILLED) return store.spill(g, this.spillAt) as IdenticalState;
    const s = this.condition.createState();
    const size = nums[o]!;
    const head = nums[o + HEAD]!;
    for (let k = 0; k < size; k++) s.push(nums[r + ((head + k) % this.cap)]!, '', undefined, 0);
    s.value = nums[o + VALUE]!;
    s.breakAt = nums[o + BREAK_AT]!;
    s.prevAt = nums[o + PREV_AT]!;
    return s;
  }

  private spilledUpdate(store: SlabStore, g: number, event: SecurityEvent, t: number): boolean {
    const s = store.spill(g, this.spillAt) as IdenticalState;
    const holds = this.condition.update(s, event, t);
    if (s.size <= this.cap >> 1) {
      const nums = store.page(this.laneIx, g);
      const at = store.rowAt(this.laneIx, g);
      const o = at + this.numAt;
      const r = at + this.ringAt;
      for (let k = 0; k < s.size; k++) nums[r + k] = s.timeAt(s.at(k));
      nums[o] = s.size;
      nums[o + HEAD] = 0;
      nums[o + VALUE] = s.value;
      nums[o + BREAK_AT] = s.breakAt;
      nums[o + PREV_AT] = s.prevAt;
      store.clearSpill(g, this.spillAt);
    }
    return holds;
  }
}
