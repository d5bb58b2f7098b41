import type { SecurityEvent } from '@llmsec/core';
import type { MonotonicState } from '../conditions/monotonic.ts';
import { repeatsPrevious } from '../conditions/repeats.ts';
import { magnitude, type FieldGetter } from '../fields.ts';
import type { Condition, MonotonicCondition } from '../types.ts';
import { SPILLED, type SlabRule } from './slab-rule.ts';
import type { SlabStore } from './slab-store.ts';

// Region layout: the scalars size, head, run, prev in the lane's row; the ring in a row of its
// own (SlabStore.rings, made at the inline window's first entry, released when the window
// spills or the group is evicted): `cap` entries of (time, value); the entries' event ids (the
// evidence) in the group's string row for this rule, one slot per entry, then their trace ids
// (an alert's trace_ids are its evidence's), `cap` slots further. The string row is made with
// the ring and dropped when the window spills (or the row is reset): a group that never sends a
// valued event (requests without new_input_length) has neither, only the four scalars.
const HEAD = 1;
const RUN = 2;
const PREV = 3;
const SCALARS = 4;

/**
 * conditions/monotonic.ts on the slab: the window's valued events in an inline ring, with the
 * length of the non-decreasing suffix (`run`) and the last value beside it. A window longer
 * than the inline ring spills into the object condition's MonotonicState and returns inline
 * once it has shrunk to half the inline ring.
 */
export class SlabMonotonic implements SlabRule {
  readonly numWidth: number;
  readonly scalarWidth = SCALARS;
  readonly strWidth: number;
  readonly ringApart: number;
  readonly spills = true;
  private laneIx = 0;
  private numAt = 0;
  /** The ring's rows (SlabStore.rings[ringIx]). */
  private ringIx = 0;
  feed = '';
  lane = '';
  /** The store's string slot of this rule (SlabStore.strings). */
  private strAt = 0;
  private spillAt = 0;
  private readonly cap: number;
  /** The object ring's cap (as conditions/monotonic.ts computes it): a full window drops its oldest. */
  private readonly max: number;
  private readonly minEvents: number;
  private readonly last: number;
  private readonly factor: number;
  private readonly getters: FieldGetter[];
  private readonly windowMs: number;
  private readonly condition: Condition<MonotonicState>;

  constructor(
    def: MonotonicCondition,
    getters: FieldGetter[],
    windowMs: number,
    maxEventsPerWindow: number,
    condition: Condition<MonotonicState>,
    inline: number,
  ) {
    this.getters = getters;
    this.windowMs = windowMs;
    this.condition = condition;
    this.minEvents = def.min_events;
    this.last = def.last ?? Number.POSITIVE_INFINITY;
    this.factor = def.factor;
    const max =
      def.last !== undefined
        ? Math.max(def.last, def.min_events)
        : Math.max(maxEventsPerWindow, def.min_events);
    this.max = Math.max(1, max);
    this.cap = Math.max(1, Math.min(this.max, inline));
    this.numWidth = SCALARS;
    this.ringApart = 2 * this.cap;
    this.strWidth = 2 * this.cap;
  }

  place(lane: number, numAt: number, _ringAt: number, strAt: number, spillAt: number, ring: number): void {
    this.laneIx = lane;
    this.numAt = numAt;
    this.ringIx = ring;
    this.strAt = strAt;
    this.spillAt = spillAt;
  }

  init(_row: Float64Array, _at: number): void {
    // size, head, run and prev start at 0.
  }

  private valueOf(event: SecurityEvent): number {
    const getters = this.getters;
    for (let i = 0; i < getters.length; i++) {
      const v = magnitude(getters[i]!(event));
      if (v > 0) return v;
    }
    return 0;
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
    // The ring's row and the string row are there whenever the inline window has entries
    // (size > 0), and only then are they looked up: a group whose window is empty (every
    // request without new_input_length, most groups) loads neither. With many users the
    // string row's slot (strPages, 8 B a group and rule, not read ahead) was a cache miss per
    // request.
    const ring = store.rings[this.ringIx]!;
    let ringRow = size > 0 ? ring.row(g) : -1;
    let ringNums = size > 0 ? ring.pageOf(ringRow) : undefined;
    let e = size > 0 ? ring.offsetOf(ringRow) : 0;
    let strs = size > 0 ? store.strings(g, this.strAt) : undefined;
    const cutoff = t - this.windowMs;
    while (size > 0 && ringNums![e + 2 * head]! <= cutoff) {
      strs![head] = undefined;
      strs![cap + head] = undefined;
      head = head + 1 === cap ? 0 : head + 1;
      size--;
    }
    const v = this.valueOf(event);
    // A repeat of the window's newest value is not a step: it stands in for the newest entry
    // (conditions/repeats.ts).
    if (v > 0 && repeatsPrevious(size, nums[o + PREV]!, v)) {
      let p = head + size - 1;
      if (p >= cap) p -= cap;
      ringNums![e + 2 * p] = t;
      strs![p] = event.event_id;
      strs![cap + p] = event.trace_id;
    } else if (v > 0) {
      if (size === cap) {
        if (cap < this.max) {
          // The window outgrows the inline ring: the object state takes over from here.
          nums[o] = size;
          nums[o + HEAD] = head;
          const s = this.state(store, g);
          nums[o] = SPILLED;
          store.dropStrings(g, this.strAt);
          ring.release(g);
          store.setSpill(g, this.spillAt, s);
          return this.condition.update(s, event, t);
        }
        // Full at the object ring's cap too: the oldest entry goes, as Ring.push does (its
        // slots are written again just below).
        strs![head] = undefined;
        head = head + 1 === cap ? 0 : head + 1;
        size--;
      }
      const run = nums[o + RUN]!;
      nums[o + RUN] = run > 0 && v >= nums[o + PREV]! ? run + 1 : 1;
      nums[o + PREV] = v;
      let p = head + size;
      if (p >= cap) p -= cap;
      if (ringNums === undefined) {
        // The window's first entry since the group was made, spilled or evicted: its ring row.
        ringRow = ring.row(g);
        ringNums = ring.pageOf(ringRow);
        e = ring.offsetOf(ringRow);
      }
      ringNums[e + 2 * p] = t;
      ringNums[e + 2 * p + 1] = v;
      strs ??= store.stringsFor(g, this.strAt, 2 * cap);
      strs[p] = event.event_id;
      strs[cap + p] = event.trace_id;
      size++;
    }
    nums[o] = size;
    nums[o + HEAD] = head;
    const n = size;
    if (n < this.minEvents || n === 0) return false;
    const m = Math.min(this.last, n);
    if (nums[o + RUN]! < m) return false;
    let newest = head + n - 1;
    if (newest >= cap) newest -= cap;
    let first = head + n - m;
    if (first >= cap) first -= cap;
    return ringNums![e + 2 * newest + 1]! > this.factor * ringNums![e + 2 * first + 1]!;
  }

  state(store: SlabStore, g: number): MonotonicState {
    const nums = store.page(this.laneIx, g);
    const o = store.rowAt(this.laneIx, g) + this.numAt;
    if (nums[o] === SPILLED) return store.spill(g, this.spillAt) as MonotonicState;
    const s = this.condition.createState();
    const size = nums[o]!;
    const head = nums[o + HEAD]!;
    if (size > 0) {
      const ring = store.rings[this.ringIx]!;
      const ringNums = ring.page(g);
      const r = ring.rowAt(g);
      const strs = store.strings(g, this.strAt);
      for (let k = 0; k < size; k++) {
        const p = (head + k) % this.cap;
        s.push(ringNums[r + 2 * p]!, strs![p]!, strs![this.cap + p], ringNums[r + 2 * p + 1]!);
      }
    }
    s.run = nums[o + RUN]!;
    s.prev = nums[o + PREV]!;
    return s;
  }

  private spilledUpdate(store: SlabStore, g: number, event: SecurityEvent, t: number): boolean {
    const s = store.spill(g, this.spillAt) as MonotonicState;
    const holds = this.condition.update(s, event, t);
    if (s.size <= this.cap >> 1) {
      const nums = store.page(this.laneIx, g);
      const o = store.rowAt(this.laneIx, g) + this.numAt;
      const ring = store.rings[this.ringIx]!;
      const ringNums = s.size > 0 ? ring.page(g) : undefined;
      const r = s.size > 0 ? ring.rowAt(g) : 0;
      const strs = s.size > 0 ? store.stringsFor(g, this.strAt, 2 * this.cap) : undefined;
      for (let k = 0; k < s.size; k++) {
        const p = s.at(k);
        ringNums![r + 2 * k] = s.timeAt(p);
        ringNums![r + 2 * k + 1] = s.valueAt(p);
        strs![k] = s.idAt(p);
        strs![this.cap + k] = s.traceAt(p);
      }
      nums[o] = s.size;
      nums[o + HEAD] = 0;
      nums[o + RUN] = s.run;
      nums[o + PREV] = s.prev;
      store.clearSpill(g, this.spillAt);
    }
    return holds;
  }
}
