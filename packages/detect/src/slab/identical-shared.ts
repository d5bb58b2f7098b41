import type { SecurityEvent } from '@llmsec/core';
import type { IdenticalState } from '../conditions/identical.ts';
import { magnitude, type FieldGetter } from '../fields.ts';
import type { Condition, IdenticalCondition } from '../types.ts';
import type { SlabRatio } from './ratio.ts';
import type { SlabRule } from './slab-rule.ts';
import type { SlabStore } from './slab-store.ts';

// Region layout: size, value, breakAt, prevAt. No ring: the times are the ratio rule's.
const VALUE = 1;
const BREAK_AT = 2;
const PREV_AT = 3;
const SCALARS = 4;

/**
 * conditions/identical.ts on the window of a ratio rule fed by the same events (same group
 * key, categories, filter and window, and updated before it on each event: see
 * `sharesWindow`), so the two keep one time ring per group instead of two. With the default
 * rules that is identical_requests on high_block_rate's window: a request event writes one
 * time where it wrote two, and the row is 7 doubles shorter.
 *
 * Why it is the same verdict: the object state holds the run's value, `breakAt`, `prevAt` and
 * the times of its newest min(run, min_events) events, and holds when that ring is full (run
 * >= min_events), `breakAt` has left the window and the oldest of those times is inside it.
 * The run is a suffix of the rule's events (any other value, or none, ends it), so that oldest
 * time is the min_events-th newest event's; events come in time order, so it is inside the
 * window exactly when at least min_events of the rule's events are (the event at hand is, unless
 * t - window rounds to t), i.e. when the ratio's
 * window, updated with this event and capped at `max` >= min_events, holds min_events. So
 * only the run's length is kept (capped at min_events, as the object ring's size), and the
 * times, when an incident opens, are read from the ratio's window (all of them are in it
 * then). Nothing spills: the ratio's window spills on its own.
 */
export class SlabIdenticalShared implements SlabRule {
  readonly numWidth = SCALARS;
  readonly scalarWidth = SCALARS;
  readonly strWidth = 0;
  readonly spills = false;
  feed = '';
  lane = '';
  private laneIx = 0;
  private numAt = 0;
  private readonly minEvents: number;
  /** The object ring's cap: the run length kept. */
  private readonly max: number;
  private readonly get: FieldGetter;
  private readonly windowMs: number;
  private readonly condition: Condition<IdenticalState>;
  private readonly window: SlabRatio;

  constructor(
    def: IdenticalCondition,
    get: FieldGetter,
    windowMs: number,
    condition: Condition<IdenticalState>,
    window: SlabRatio,
  ) {
    if (!sharesWindow(def, windowMs, window))
      throw new Error('SlabIdenticalShared: the ratio window does not cover min_events');
    this.get = get;
    this.windowMs = windowMs;
    this.condition = condition;
    this.minEvents = def.min_events;
    this.max = Math.max(1, def.min_events);
    this.window = window;
  }

  place(lane: number, numAt: number, _ringAt: number, _strAt: number, _spillAt: number): void {
    this.laneIx = lane;
    this.numAt = numAt;
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
    const raw = this.get(event);
    const v = typeof raw === 'number' ? magnitude(raw) : 0;
    let size: number;
    if (v <= 0) {
      // An event without a usable value is in the window too, so it breaks the run.
      nums[o + VALUE] = Number.NaN;
      nums[o + BREAK_AT] = t;
      size = 0;
    } else if (v !== nums[o + VALUE]) {
      nums[o + BREAK_AT] = nums[o + PREV_AT]!;
      nums[o + VALUE] = v;
      size = 1;
    } else {
      size = nums[o]!;
      if (size < this.max) size++;
    }
    nums[o] = size;
    nums[o + PREV_AT] = t;
    const cutoff = t - this.windowMs;
    // `cutoff < t`: the ratio's window holds the event just pushed even when it is not inside
    // the window itself (a window below the resolution of t: t - window === t), where the
    // object ring's oldest time is not above the cutoff.
    return (
      size >= this.minEvents &&
      nums[o + BREAK_AT]! <= cutoff &&
      cutoff < t &&
      this.window.windowSize(store, g) >= this.minEvents
    );
  }

  /**
   * The object state; its ring holds the run's newest times that are still in the ratio's
   * window (all of them when the condition holds, the only time the engine reads it).
   */
  state(store: SlabStore, g: number): IdenticalState {
    const nums = store.page(this.laneIx, g);
    const at = store.rowAt(this.laneIx, g);
    const o = at + this.numAt;
    const s = this.condition.createState();
    const n = Math.min(nums[o]!, this.window.windowSize(store, g));
    for (let k = n; k >= 1; k--) s.push(this.window.newestTime(store, g, k), '', undefined, 0);
    s.value = nums[o + VALUE]!;
    s.breakAt = nums[o + BREAK_AT]!;
    s.prevAt = nums[o + PREV_AT]!;
    return s;
  }
}

/**
 * Whether an identical rule can read `ratio`'s window (the caller checks that the two share
 * the group key and feed, and that the ratio comes first): same window, and a cap that keeps
 * at least min_events of it.
 */
export function sharesWindow(def: IdenticalCondition, windowMs: number, ratio: SlabRatio): boolean {
  return ratio.windowMs === windowMs && ratio.max >= Math.max(1, def.min_events);
}
