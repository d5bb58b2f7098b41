import type { SlabRule } from './slab-rule.ts';

/**
 * Rows per page: 256 rows of the default rules' user table (78 doubles and 18 string slots a
 * row) are a 160 KB array of doubles and a 37 KB array of strings.
 */
const PAGE_BITS = 8;
const PAGE_ROWS = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_ROWS - 1;

/**
 * The slab of one group table: a row per group (row index = the group's index in the table)
 * of `numStride` doubles, a row of `strStride` strings beside it (event ids and the like,
 * written on the hot path and read only when an incident opens), and `spillStride` slots
 * for the object states of windows that outgrew their inline ring (one flat array, mostly
 * undefined). Rows are added as the table grows (to its cap), a page of PAGE_ROWS at a time,
 * and never freed: the table reuses an evicted group's row for the next new group, and
 * resets it (the template's doubles, no strings, no spilled states) so nothing of the evicted
 * group stays reachable.
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
  /** Strings in pages of PAGE_ROWS rows, like the doubles: row g at strPage(g)[strRowAt(g)]. */
  private readonly strPages: (string | undefined)[][] = [];
  readonly strStride: number;
  readonly spills: unknown[] = [];
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

  strPage(g: number): (string | undefined)[] {
    return this.strPages[g >>> PAGE_BITS]!;
  }

  strRowAt(g: number): number {
    return (g & PAGE_MASK) * this.strStride;
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
      str += rule.strWidth;
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
        this.strPages.push(new Array<string | undefined>(PAGE_ROWS * strStride).fill(undefined));
      }
      for (let i = 0; i < spillStride; i++) this.spills.push(undefined);
      return;
    }
    const page = this.page(g);
    for (let i = 0, o = this.rowAt(g); i < numStride; i++) page[o + i] = template[i]!;
    const so = this.strRowAt(g);
    this.strPage(g).fill(undefined, so, so + strStride);
    this.spills.fill(undefined, g * spillStride, (g + 1) * spillStride);
  }
}
