import type { SlabRule } from './slab-rule.ts';

/**
 * Rows per page: 256 rows of the default rules' user table (78 doubles and 2 string-row slots
 * a row) are a 160 KB array of doubles and a 4 KB array of string-row slots.
 */
const PAGE_BITS = 8;
const PAGE_ROWS = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_ROWS - 1;

/**
 * The slab of one group table: a row per group (row index = the group's index in the table)
 * of `numStride` doubles; per group and string-keeping rule (`strStride` of them) a string
 * row of the rule's own width (event ids and the like, written on the hot path and read only
 * when an incident opens), made when the rule first writes one for the group; and the object
 * states of windows that outgrew their inline ring, `spillStride` possible per row. Rows of
 * doubles are added as the table grows (to its cap), a page of PAGE_ROWS at a time, and never
 * freed: the table reuses an evicted group's row for the next new group, and resets it (the
 * template's doubles, no string rows, no spilled states) so nothing of the evicted group stays
 * reachable.
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
  /** Rows in pages of PAGE_ROWS: row g at page(g)[rowAt(g)]. */
  private readonly pages: number[][] = [];
  readonly numStride: number;
  /**
   * Per row, `strStride` slots (one per string-keeping rule) in pages of PAGE_ROWS rows, like
   * the doubles: rule slot k of row g, a string row or undefined (the rule wrote none yet).
   */
  private readonly strPages: (StringRow | undefined)[][] = [];
  readonly strStride: number;
  /** The spilled windows' object states by row g * spillStride + the rule's spill slot. */
  private readonly spilled = new Map<number, unknown>();
  readonly spillStride: number;
  private readonly template: Float64Array;
  /** Each rule's lane's first double in a row, and the last one of its hot part (see laneAt). */
  private readonly laneStart = new Map<SlabRule, number>();
  private readonly laneEnd = new Map<SlabRule, number>();

  /**
   * Where in a row the rule's lane starts: its rules' scalars, then their rings. An event of
   * the lane's categories reads from there on (where the read-ahead starts).
   */
  laneAt(rule: SlabRule): number {
    return this.laneStart.get(rule) ?? 0;
  }

  /**
   * The last double of the lane's hot part: its scalars and the first ring entry after them
   * (with the default rules, high_block_rate's: a user seen less than once a window writes
   * that entry and the scalars only). The read-ahead reads up to here.
   */
  laneLast(rule: SlabRule): number {
    return this.laneEnd.get(rule) ?? 0;
  }

  /** The page holding row g's doubles. */
  page(g: number): number[] {
    return this.pages[g >>> PAGE_BITS]!;
  }

  /** Where row g starts in its page. */
  rowAt(g: number): number {
    return (g & PAGE_MASK) * this.numStride;
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
    // after the other: their scalars go side by side, then their rings, so an event reads its
    // rules' sizes, heads and aggregates from one or two cache lines instead of one region
    // (and line) per rule. With the default rules a request_completed event touches the 16
    // scalars of its four rules and the ratio's first ring entry (row offsets 20-37 of 78).
    // By lane, not by where-filter: token_usage_anomaly reads every request, the other three
    // only those without block_source, and laid out by filter its scalars sat at the row's
    // end, a cache line of its own that the read-ahead did not read (a miss per request).
    const lanes: string[] = [];
    for (const rule of rules) if (!lanes.includes(rule.lane)) lanes.push(rule.lane);
    const numAt = new Map<SlabRule, number>();
    const ringAt = new Map<SlabRule, number>();
    let num = 0;
    for (const lane of lanes) {
      const fed = rules.filter((r) => r.lane === lane);
      const start = num;
      for (const rule of fed) {
        numAt.set(rule, num);
        num += rule.scalarWidth;
      }
      for (const rule of fed) {
        this.laneStart.set(rule, start);
        // Clipped to the row below, once its width is known.
        this.laneEnd.set(rule, num + 1);
      }
      for (const rule of fed) {
        ringAt.set(rule, num);
        num += rule.numWidth - rule.scalarWidth;
      }
    }
    let str = 0;
    let spill = 0;
    for (const rule of rules) {
      rule.place(numAt.get(rule)!, ringAt.get(rule)!, str, spill);
      if (rule.strWidth > 0) str++;
      if (rule.spills) spill++;
    }
    this.numStride = num;
    for (const [rule, end] of this.laneEnd) this.laneEnd.set(rule, Math.min(end, num - 1));
    this.strStride = str;
    this.spillStride = spill;
    this.template = new Float64Array(num);
    for (const rule of rules) rule.init(this.template, numAt.get(rule)!);
  }

  /** Makes row g (g <= the rows so far: rows are added in order) fresh: the template, no strings, no spills. */
  reset(g: number, isNew: boolean): void {
    const template = this.template;
    const numStride = this.numStride;
    const strStride = this.strStride;
    const spillStride = this.spillStride;
    if (isNew) {
      // Rows are added in order, so g opens each page; a new page starts as template rows.
      if ((g & PAGE_MASK) === 0) {
        // Allocated at its size and written in place (a page grown by push would hold up to
        // half again as much slack); the first number written that is not a small integer (a
        // template NaN, else the first event time) makes it an array of unboxed doubles.
        const page = new Array<number>(PAGE_ROWS * numStride);
        for (let r = 0; r < PAGE_ROWS; r++)
          for (let i = 0; i < numStride; i++) page[r * numStride + i] = template[i]!;
        this.pages.push(page);
        this.strPages.push(new Array<StringRow | undefined>(PAGE_ROWS * strStride).fill(undefined));
      }
      return;
    }
    const page = this.page(g);
    for (let i = 0, o = this.rowAt(g); i < numStride; i++) page[o + i] = template[i]!;
    const so = (g & PAGE_MASK) * strStride;
    this.strPages[g >>> PAGE_BITS]!.fill(undefined, so, so + strStride);
    // Most rows never spill: no lookups per eviction then.
    if (this.spilled.size > 0) for (let k = 0; k < spillStride; k++) this.spilled.delete(g * spillStride + k);
  }
}

/** One rule's strings of one group (its window entries' event ids, then their trace ids). */
export type StringRow = (string | undefined)[];
