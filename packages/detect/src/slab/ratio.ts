import type { SecurityEvent } from '@llmsec/core';
import type { RatioState } from '../conditions/ratio.ts';
import { sameScalar, type FieldGetter } from '../fields.ts';
import type { Condition, RatioCondition } from '../types.ts';
import { SPILLED, type SlabRule } from './slab-rule.ts';
import type { SlabStore } from './slab-store.ts';

// Region layout: the scalars size, head, hits, newest; the ring (elsewhere in the row, see SlabStore):
// the entries' flags as the bits of one number (entry p's flag is bit p), then `cap` entry times.
const HEAD = 1;
const HITS = 2;
/**
 * The newest entry's time: when it has left the window, so has every entry (times come in
 * order), and the window empties without reading the ring. A user seen less often than once a
 * window (most of them, with many users) then reads and writes only the scalars and the
 * ring's first entry, next to them, instead of loading the oldest entry wherever the head is.
 */
const NEWEST = 3;
const SCALARS = 4;
/**
 * The most entries the inline ring holds: their flags are the bits of one double, written with
 * 32-bit integer operations (bit 30 the highest, so the number stays a positive integer). The
 * rules' inline rings hold at most MAX_INLINE_ENTRIES (16, slab-rules.ts); a ring capped here
 * spills sooner, which the object state handles exactly.
 *
 * Why bits and not a double per flag (issue 13, tenth round): with the default rules the ratio's
 * ring (11 entries) was 22 of the request row's 38 doubles, every user who sends a request
 * carries the row, and with many users a new group's bytes are what it costs; as bits the ring
 * takes 12 doubles, the row 28 (304 -> 224 B), its hot part fewer cache lines.
 */
const MAX_FLAG_BITS = 31;

/**
 * conditions/ratio.ts on the slab: the same window of (time, flag) with a running count of
 * flags, in an inline ring of `cap` entries. A window that needs more spills into the object
 * condition's RatioState (which then does the work); it returns inline once it has shrunk to
 * half the inline ring, so a user who bursts once does not stay on the slow path.
 */
export class SlabRatio implements SlabRule {
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
  /** Inline ring entries. */
  private readonly cap: number;
  /** The object ring's cap (max(maxEventsPerWindow, min_events)): a full window drops its oldest. */
  readonly max: number;
  private readonly want: string | number | boolean;
  private readonly wantText: string;
  private readonly minEvents: number;
  private readonly above: number;
  private readonly get: FieldGetter;
  readonly windowMs: number;
  private readonly condition: Condition<RatioState>;

  constructor(
    def: RatioCondition,
    get: FieldGetter,
    windowMs: number,
    maxEventsPerWindow: number,
    condition: Condition<RatioState>,
    inline: number,
  ) {
    this.get = get;
    this.windowMs = windowMs;
    this.condition = condition;
    this.want = def.equals ?? true;
    this.wantText = String(this.want);
    this.minEvents = def.min_events;
    this.above = def.above;
    this.max = Math.max(1, maxEventsPerWindow, def.min_events);
    this.cap = Math.max(1, Math.min(this.max, inline, MAX_FLAG_BITS));
    this.numWidth = SCALARS + 1 + this.cap;
  }

  place(lane: number, numAt: number, ringAt: number, _strAt: number, spillAt: number): void {
    this.laneIx = lane;
    this.numAt = numAt;
    this.ringAt = ringAt;
    this.spillAt = spillAt;
  }

  init(_row: Float64Array, _at: number): void {
    // size, head and hits start at 0; newest is read only when size > 0.
  }

  update(store: SlabStore, g: number, event: SecurityEvent, t: number): boolean {
    const lane = store.lanes[this.laneIx]!;
    const row = lane.row(g);
    const nums = lane.pageOf(row);
    const at = lane.offsetOf(row);
    const o = at + this.numAt;
    let size = nums[o]!;
    if (size === SPILLED) return this.spilledUpdate(store, g, event, t);
    const cap = this.cap;
    // The flags' bits at the ring's start, the times after them.
    const m = at + this.ringAt;
    const e = m + 1;
    const cutoff = t - this.windowMs;
    let head = 0;
    let hits = 0;
    let flags = 0;
    if (size > 0 && nums[o + NEWEST]! <= cutoff) size = 0;
    else {
      head = nums[o + HEAD]!;
      hits = nums[o + HITS]!;
      flags = nums[m]!;
    }
    while (size > 0 && (nums[e + head]! <= cutoff || size >= this.max)) {
      hits -= (flags >>> head) & 1;
      head = head + 1 === cap ? 0 : head + 1;
      size--;
    }
    if (size === cap) {
      // The window outgrows the inline ring (cap < max, or the loop would have made room).
      nums[o] = size;
      nums[o + HEAD] = head;
      nums[o + HITS] = hits;
      const s = this.state(store, g);
      nums[o] = SPILLED;
      store.setSpill(g, this.spillAt, s);
      return this.condition.update(s, event, t);
    }
    const flag = sameScalar(this.get(event), this.want, this.wantText) ? 1 : 0;
    let p = head + size;
    if (p >= cap) p -= cap;
    nums[e + p] = t;
    // Bits of entries out of the window (an emptied window's: all of them) are never read.
    nums[m] = (flags & ~(1 << p)) | (flag << p);
    size++;
    hits += flag;
    nums[o] = size;
    nums[o + HEAD] = head;
    nums[o + HITS] = hits;
    nums[o + NEWEST] = t;
    return size >= this.minEvents && hits > this.above * size;
  }

  /**
   * Group g's window size after the last update: the rule's newest events with a time inside
   * the window (at most `max`). A co-fed identical rule reads it (identical-shared.ts).
   */
  windowSize(store: SlabStore, g: number): number {
    const lane = store.lanes[this.laneIx]!;
    const row = lane.row(g);
    const size = lane.pageOf(row)[lane.offsetOf(row) + this.numAt]!;
    return size === SPILLED ? (store.spill(g, this.spillAt) as RatioState).size : size;
  }

  /** The time of the window's k-th newest entry (k from 1 to windowSize). */
  newestTime(store: SlabStore, g: number, k: number): number {
    const nums = store.page(this.laneIx, g);
    const at = store.rowAt(this.laneIx, g);
    const o = at + this.numAt;
    const size = nums[o]!;
    if (size === SPILLED) {
      const s = store.spill(g, this.spillAt) as RatioState;
      return s.timeAt(s.at(s.size - k));
    }
    let p = nums[o + HEAD]! + size - k;
    if (p >= this.cap) p -= this.cap;
    return nums[at + this.ringAt + 1 + p]!;
  }

  state(store: SlabStore, g: number): RatioState {
    const nums = store.page(this.laneIx, g);
    const at = store.rowAt(this.laneIx, g);
    const o = at + this.numAt;
    const r = at + this.ringAt;
    if (nums[o] === SPILLED) return store.spill(g, this.spillAt) as RatioState;
    const s = this.condition.createState();
    const size = nums[o]!;
    const head = nums[o + HEAD]!;
    const flags = nums[r]!;
    for (let k = 0; k < size; k++) {
      const p = (head + k) % this.cap;
      s.push(nums[r + 1 + p]!, '', undefined, (flags >>> p) & 1);
    }
    s.hits = nums[o + HITS]!;
    return s;
  }

  private spilledUpdate(store: SlabStore, g: number, event: SecurityEvent, t: number): boolean {
    const s = store.spill(g, this.spillAt) as RatioState;
    const holds = this.condition.update(s, event, t);
    if (s.size <= this.cap >> 1) {
      // Back inline: the window fits with room to grow again before the next spill.
      const nums = store.page(this.laneIx, g);
      const at = store.rowAt(this.laneIx, g);
      const o = at + this.numAt;
      const r = at + this.ringAt;
      let flags = 0;
      for (let k = 0; k < s.size; k++) {
        const p = s.at(k);
        nums[r + 1 + k] = s.timeAt(p);
        // A flag is 0 or 1 (update pushes no other value).
        if (s.valueAt(p) !== 0) flags |= 1 << k;
      }
      nums[r] = flags;
      nums[o] = s.size;
      nums[o + HEAD] = 0;
      nums[o + HITS] = s.hits;
      if (s.size > 0) nums[o + NEWEST] = s.timeAt(s.newestIndex());
      store.clearSpill(g, this.spillAt);
    }
    return holds;
  }
}
