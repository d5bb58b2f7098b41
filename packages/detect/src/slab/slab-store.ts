import type { SlabRule } from './slab-rule.ts';

/**
 * Rows per page: 256 rows of the default rules' request lane (28 doubles) are a 56 KB array
 * of doubles, of the block lane (4) 8 KB, of escalating_length's ring apart (20) 40 KB, and
 * 256 groups' 2 string-row slots 4 KB. Pages of 512 rows (the request lane's, then 58 doubles,
 * 237 KB: past V8's 128 KB regular-object size, so made in large-object space, never copied by
 * a scavenge) measured slower: engine-ab.ts at 100,000 users, paired 0.85x (q1-q3 0.78-0.88),
 * load 8-9 (issue 13, eighth round).
 */
const PAGE_BITS = 8;
const PAGE_ROWS = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_ROWS - 1;

/**
 * The slab of one group table: per lane (the rules one event category feeds: SlabLane) a row
 * of doubles per group that has written the lane, made on its first event of the lane; per
 * group and string-keeping rule (`strStride` of them) a string row of the rule's own width
 * (event ids and the like, written on the hot path and read only when an incident opens), made
 * when the rule first writes one for the group; and the object states of windows that outgrew
 * their inline ring, `spillStride` possible per group. Rows of doubles are added as groups
 * first write a lane (at most one per group held), a page of PAGE_ROWS at a time, and never
 * freed: an evicted group's lane rows go back to their lanes for the next group to write them
 * (reset to the template then), its string rows and spilled states are dropped, so nothing of
 * the evicted group stays reachable.
 *
 * Why the string rows and the spills are not in the page (issue 13): a group's first event
 * makes its row, and with many users the bytes a new group takes are what a new group costs
 * (the heap's new pages are first touched, ~13-20 µs of CPU per 4 KB on this VM, then
 * collected over). In the page, every group carried 36 string slots (288 B with the default
 * rules) and 3 spill slots (24 B, grown by push: ~31 B): a request in the replay mix writes no
 * string (it has no `new_input_length`, escalating_length's value) and few windows ever spill.
 * Now a group pays 8 B per string rule until that rule writes (escalating_complexity on the
 * first block; a request with `new_input_length`), then the rule's row and its headers (+48 B
 * over the page's slots), and a spilled window one Map entry while it is spilled.
 *
 * The doubles are plain arrays (V8 keeps a number-only array as unboxed doubles, contiguous,
 * indexed as fast as a Float64Array), not a Float64Array: a typed array's storage is memory
 * outside the JS heap, and growing it by copying (42 MB at 100,000 groups, 84 MB allocated on
 * the way) made V8 run full mark-compact collections for the external memory, each walking
 * the whole heap (450 ms with the benchmark's 500 MB of events: ~900 ns per event of GC at
 * 100,000 users, against ~250 with plain arrays; bench/detect/profile-engine.ts). They come in
 * fixed pages of rows rather than one growing array: nothing is copied as the table grows,
 * and no growth slack (up to half of one array) is held per group.
 */
export class SlabStore {
  /** The lanes' rows of doubles (SlabLane), by the lane index each rule is placed with. */
  readonly lanes: SlabLane[] = [];
  /**
   * The rows of the rings kept apart from their lanes (SlabRule.ringApart: the monotonic rules'),
   * one SlabLane per such rule, a group's row made when the rule's window takes its first entry.
   * Why apart (issue 13, eighth round): escalating_length's ring (10 entries, 20 doubles) sat in
   * every group's request row, 160 of its 464 bytes, though only a request carrying
   * new_input_length writes it (none in the replay mix, and no request the SDK records without a
   * conversation history); a group now pays 4 B for it (the lane's rowOf) until it does.
   */
  readonly rings: SlabLane[] = [];
  /** Doubles a group holding a row in every lane and ring takes (their strides added up). */
  readonly numStride: number;
  /**
   * Per row, `strStride` slots (one per string-keeping rule) in pages of PAGE_ROWS rows:
   * rule slot k of row g, a string row or undefined (the rule wrote none yet).
   */
  private readonly strPages: (StringRow | undefined)[][] = [];
  readonly strStride: number;
  /** The spilled windows' object states by row g * spillStride + the rule's spill slot. */
  private readonly spilled = new Map<number, unknown>();
  readonly spillStride: number;
  /** Each rule's lane index, and the last double of the lane's hot part (see laneLast). */
  private readonly laneIndex = new Map<SlabRule, number>();
  private readonly laneEnd = new Map<SlabRule, number>();
  /** Groups (rows g) the store has been told of (reset with isNew). */
  private groups = 0;

  /** The index of the rule's lane (its rows: `lanes[i]`); an event of the lane's categories reads from its row's start. */
  laneOf(rule: SlabRule): number {
    return this.laneIndex.get(rule) ?? 0;
  }

  /**
   * The last double of the lane's hot part: its scalars and the first ring entry after them
   * (with the default rules, high_block_rate's: a user seen less than once a window writes
   * that entry and the scalars only). The read-ahead reads up to here.
   */
  laneLast(rule: SlabRule): number {
    return this.laneEnd.get(rule) ?? 0;
  }

  /** The page holding group g's row of lane `lane` (made from the template on the lane's first use by g). */
  page(lane: number, g: number): number[] {
    return this.lanes[lane]!.page(g);
  }

  /** Where group g's row of lane `lane` starts in its page (made on first use, as `page`). */
  rowAt(lane: number, g: number): number {
    return this.lanes[lane]!.rowAt(g);
  }

  /** Row g's string row for string slot `slot` (SlabRule.place's strAt), or undefined while the rule has written none. */
  strings(g: number, slot: number): StringRow | undefined {
    return this.strPages[g >>> PAGE_BITS]![(g & PAGE_MASK) * this.strStride + slot];
  }

  /** Row g's string row for `slot`, made (`width` slots, all undefined) if it has none. */
  stringsFor(g: number, slot: number, width: number): StringRow {
    const page = this.strPages[g >>> PAGE_BITS]!;
    const at = (g & PAGE_MASK) * this.strStride + slot;
    let row = page[at];
    if (row === undefined) {
      row = new Array<string | undefined>(width).fill(undefined);
      page[at] = row;
    }
    return row;
  }

  /** Drops row g's string row for `slot` (its window left it: spilled, or it holds no entries). */
  dropStrings(g: number, slot: number): void {
    this.strPages[g >>> PAGE_BITS]![(g & PAGE_MASK) * this.strStride + slot] = undefined;
  }

  /** The object state of row g's spilled window in spill slot `slot` (SlabRule.place's spillAt). */
  spill(g: number, slot: number): unknown {
    return this.spilled.get(g * this.spillStride + slot);
  }

  setSpill(g: number, slot: number, state: unknown): void {
    this.spilled.set(g * this.spillStride + slot, state);
  }

  /** The window is back inline: its object state is let go. */
  clearSpill(g: number, slot: number): void {
    this.spilled.delete(g * this.spillStride + slot);
  }

  /** Spilled windows held, all rows (tests: nothing of an evicted group is kept). */
  get spilledCount(): number {
    return this.spilled.size;
  }

  /** Row g's spilled windows' object states (tests). */
  spillsOf(g: number): unknown[] {
    const out: unknown[] = [];
    for (let k = 0; k < this.spillStride; k++) {
      const s = this.spilled.get(g * this.spillStride + k);
      if (s !== undefined) out.push(s);
    }
    return out;
  }

  /** Every string row g holds, all its rules' (tests: nothing stale is kept). */
  rowStrings(g: number): (string | undefined)[] {
    const out: (string | undefined)[] = [];
    for (let k = 0; k < this.strStride; k++) out.push(...(this.strings(g, k) ?? []));
    return out;
  }

  /** String-row objects held, all rows (tests and flood-memory). */
  get stringRows(): number {
    let n = 0;
    for (const page of this.strPages) for (const row of page) if (row !== undefined) n++;
    return n;
  }

  constructor(rules: SlabRule[]) {
    // An event of one category updates the rules of its lane (those its category feeds) one
    // after the other: their scalars go side by side at the start of the lane's row, then
    // their rings, so an event reads its rules' sizes, heads and aggregates from one or two
    // cache lines instead of one region (and line) per rule. With the default rules a
    // request_completed event touches the 16 scalars of its four rules and the ratio's first
    // ring entry (doubles 0-17 of the request lane's 58 then, 28 since the ratio's flags are
    // bits: ratio.ts). By lane, not by where-filter:
    // token_usage_anomaly reads every request, the other three only those without
    // block_source, and laid out by filter its scalars sat at the row's end, a cache line of
    // its own that the read-ahead did not read (a miss per request).
    const lanes: string[] = [];
    for (const rule of rules) if (!lanes.includes(rule.lane)) lanes.push(rule.lane);
    let str = 0;
    let spill = 0;
    let total = 0;
    const ringOf = new Map<SlabRule, number>();
    for (const rule of rules) {
      const width = rule.ringApart ?? 0;
      if (width <= 0) continue;
      ringOf.set(rule, this.rings.length);
      this.rings.push(new SlabLane(new Float64Array(width)));
      total += width;
    }
    for (const [index, lane] of lanes.entries()) {
      const fed = rules.filter((r) => r.lane === lane);
      const numAt = new Map<SlabRule, number>();
      let num = 0;
      for (const rule of fed) {
        numAt.set(rule, num);
        num += rule.scalarWidth;
      }
      const hotEnd = num;
      const ringAt = new Map<SlabRule, number>();
      for (const rule of fed) {
        ringAt.set(rule, num);
        num += rule.numWidth - rule.scalarWidth;
      }
      const template = new Float64Array(num);
      for (const rule of fed) {
        rule.init(template, numAt.get(rule)!);
        this.laneIndex.set(rule, index);
        this.laneEnd.set(rule, Math.min(hotEnd + 1, num - 1));
      }
      this.lanes.push(new SlabLane(template));
      total += num;
      for (const rule of fed) {
        rule.place(index, numAt.get(rule)!, ringAt.get(rule)!, str, spill, ringOf.get(rule) ?? -1);
        if (rule.strWidth > 0) str++;
        if (rule.spills) spill++;
      }
    }
    this.numStride = total;
    this.strStride = str;
    this.spillStride = spill;
  }

  /** Makes row g (g <= the rows so far: rows are added in order) fresh: no lane rows, no strings, no spills. */
  reset(g: number, isNew: boolean): void {
    const strStride = this.strStride;
    const spillStride = this.spillStride;
    const lanes = this.lanes;
    if (isNew) {
      // Rows are added in order, so g opens each page of string-row slots.
      if ((g & PAGE_MASK) === 0)
        this.strPages.push(new Array<StringRow | undefined>(PAGE_ROWS * strStride).fill(undefined));
      this.groups = g + 1;
      for (let i = 0; i < lanes.length; i++) lanes[i]!.grow(this.groups);
      for (let i = 0; i < this.rings.length; i++) this.rings[i]!.grow(this.groups);
      return;
    }
    // The evicted group's lane rows go back to their lanes (the next group to use a lane takes
    // one, made fresh then): a new group that never writes a lane holds none of it.
    for (let i = 0; i < lanes.length; i++) lanes[i]!.release(g);
    for (let i = 0; i < this.rings.length; i++) this.rings[i]!.release(g);
    const so = (g & PAGE_MASK) * strStride;
    this.strPages[g >>> PAGE_BITS]!.fill(undefined, so, so + strStride);
    // Most rows never spill: no lookups per eviction then.
    if (this.spilled.size > 0) for (let k = 0; k < spillStride; k++) this.spilled.delete(g * spillStride + k);
  }
}

/**
 * The rows of doubles of one lane (the slab rules one event category feeds), a row per group
 * that has written the lane, made when the group first does (issue 13, seventh round). Before,
 * a group's row held every lane: with the default rules a user who only sends requests (most
 * users) carried the block lane's 20 doubles (160 B) and a user who only gets blocked the
 * request lane's 58 (464 B). Now group g's row of the lane is `rowOf[g] - 1` (0: none), in
 * pages of PAGE_ROWS rows allocated as the lane's rows reach them; an evicted group's row goes
 * on a free list, reset from the template when the next group takes it, so the lane never holds
 * more rows than the table holds groups.
 */
export class SlabLane {
  /** Doubles per row: the lane's rules' scalars, then their rings. */
  readonly stride: number;
  private readonly template: Float64Array;
  /** Rows in pages of PAGE_ROWS: lane row r at pages[r >>> PAGE_BITS][(r & PAGE_MASK) * stride]. */
  private readonly pages: number[][] = [];
  /** Per group g: its lane row + 1, 0 while it has none. */
  private rowOf = new Int32Array(64);
  /** Lane rows made so far (in use or free). */
  private made = 0;
  /** Lane rows released by evicted groups, reused before new ones. */
  private readonly free: number[] = [];

  constructor(template: Float64Array) {
    this.template = template;
    this.stride = template.length;
  }

  /** Rows held by groups (tests: bounded by the table's groups). */
  get rows(): number {
    return this.made - this.free.length;
  }

  /** Pages allocated (tests). */
  get pageCount(): number {
    return this.pages.length;
  }

  /** Whether group g has a row in this lane (the read-ahead reads only rows that exist). */
  has(g: number): boolean {
    return this.rowOf[g] !== 0;
  }

  /**
   * Group g's row of this lane, made (from the template) if g has none: a rule's update looks
   * it up once and reads its page and offset from it (pageOf, offsetOf).
   */
  row(g: number): number {
    const r = this.rowOf[g]! - 1;
    return r < 0 ? this.make(g) : r;
  }

  /** The page holding lane row r. */
  pageOf(r: number): number[] {
    return this.pages[r >>> PAGE_BITS]!;
  }

  /** Where lane row r starts in its page. */
  offsetOf(r: number): number {
    return (r & PAGE_MASK) * this.stride;
  }

  /** The page holding group g's row, made if g has none. */
  page(g: number): number[] {
    return this.pageOf(this.row(g));
  }

  /** Where group g's row starts in its page, made if g has none. */
  rowAt(g: number): number {
    return this.offsetOf(this.row(g));
  }

  /** Group g's lane row, or -1 while it has none (reads only: the read-ahead). */
  rowIfAny(g: number): number {
    return this.rowOf[g]! - 1;
  }

  /**
   * Reads, without writing, doubles 0 to `last` of lane row r (r from rowIfAny): a line apart
   * and the last one, which covers every line of a span of up to 25 doubles. Returns 0 or 1,
   * only so the loads are not optimised away (group-prefetch.ts).
   */
  peek(r: number, last: number): number {
    const page = this.pages[r >>> PAGE_BITS]!;
    const o = (r & PAGE_MASK) * this.stride;
    const mid = 8 < last ? 8 : last;
    const end = 16 < last ? 16 : last;
    return page[o]! + page[o + mid]! + page[o + end]! + page[o + last]! > 0 ? 1 : 0;
  }

  /** Room for groups 0..n-1. */
  grow(n: number): void {
    if (n <= this.rowOf.length) return;
    const rowOf = new Int32Array(this.rowOf.length * 2);
    rowOf.set(this.rowOf);
    this.rowOf = rowOf;
  }

  /** Group g's row goes back to the lane (g was evicted). */
  release(g: number): void {
    const r = this.rowOf[g]! - 1;
    if (r < 0) return;
    this.rowOf[g] = 0;
    this.free.push(r);
  }

  private make(g: number): number {
    const template = this.template;
    const stride = this.stride;
    let r = this.free.pop();
    if (r === undefined) {
      r = this.made++;
      if ((r & PAGE_MASK) === 0) {
        // Allocated at its size and written in place (a page grown by push would hold up to
        // half again as much slack); the first number written that is not a small integer (a
        // template NaN, else the first event time) makes it an array of unboxed doubles.
        const page = new Array<number>(PAGE_ROWS * stride);
        for (let i = 0; i < PAGE_ROWS * stride; i++) page[i] = template[i % stride]!;
        this.pages.push(page);
      }
    } else {
      const page = this.pages[r >>> PAGE_BITS]!;
      for (let i = 0, o = (r & PAGE_MASK) * stride; i < stride; i++) page[o + i] = template[i]!;
    }
    this.rowOf[g] = r + 1;
    return r;
  }
}

/** One rule's strings of one group (its window entries' event ids, then their trace ids). */
export type StringRow = (string | undefined)[];
