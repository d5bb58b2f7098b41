/** The columns a ring keeps besides event times. */
export interface RingColumns {
  /** Event ids, for evidence (default on); conditions that take evidence from their triggers skip them. */
  ids?: boolean;
  /** Trace ids: only when asked for, they cost memory per event and per-user request rings are many. */
  traces?: boolean;
  /** A number per entry, for conditions that read one (monotonic, ratio flags). */
  values?: boolean;
  /** The entry's user, for cross-group conditions. */
  users?: boolean;
}

/** Shared by every ring that has not stored an entry yet; never written (push grows first). */
const NO_NUMBERS: number[] = [];
const NO_STRINGS: (string | undefined)[] = [];

/**
 * A bounded FIFO of window entries (event time, and as asked: event id, trace id, user, value).
 * Storage is two plain arrays however many columns: the numbers (time, then value) interleaved
 * in one, the strings (id, trace, user) interleaved in the other. With many users each
 * event's first read of its group's window is a cache miss per object, and a JS array is two
 * objects (the array and its elements), so a column per array cost up to ten objects per
 * ring; this is at most four. Typed arrays would cost more than a small window holds. Storage
 * is allocated on the first push (most groups of a quiet rule never hold an entry), then grows
 * x1.5 up to `max`; a full ring drops its oldest entry (the caller adjusts its aggregates
 * first, see `full` / `oldest*`).
 */
/**
 * What a ring keeps and where, made once per condition and shared by all its rings (so a ring
 * object holds only its storage and positions: there is one per group and rule).
 */
export class RingLayout {
  readonly max: number;
  readonly hasIds: boolean;
  readonly hasTraces: boolean;
  readonly hasValues: boolean;
  readonly hasUsers: boolean;
  readonly numStride: number;
  readonly strStride: number;
  readonly traceOffset: number;
  readonly userOffset: number;

  constructor(max: number, columns: RingColumns = {}) {
    this.max = Math.max(1, max);
    this.hasIds = columns.ids !== false;
    this.hasTraces = columns.traces === true;
    this.hasValues = columns.values === true;
    this.hasUsers = columns.users === true;
    this.numStride = this.hasValues ? 2 : 1;
    const ids = this.hasIds ? 1 : 0;
    this.traceOffset = ids;
    this.userOffset = ids + (this.hasTraces ? 1 : 0);
    this.strStride = this.userOffset + (this.hasUsers ? 1 : 0);
  }
}

/** Layouts by (max, columns), for rings decoded from the shared state (see state/codec.ts). */
const layouts = new Map<string, RingLayout>();

export function sharedRingLayout(max: number, columns: RingColumns): RingLayout {
  const key = `${max}|${columns.ids !== false ? 1 : 0}${columns.traces ? 1 : 0}${columns.values ? 1 : 0}${columns.users ? 1 : 0}`;
  let layout = layouts.get(key);
  if (layout === undefined) {
    // Bounded in practice (one per condition and cap), but capped against a flood of decoded maxima.
    if (layouts.size >= 256) layouts.clear();
    layout = new RingLayout(max, columns);
    layouts.set(key, layout);
  }
  return layout;
}

export class Ring {
  private readonly layout: RingLayout;
  /** Entry p's time at nums[p * numStride], its value (when kept) right after. */
  private nums: number[] = NO_NUMBERS;
  /** Entry p's id, trace, user (those kept, in that order) from strs[p * strStride]. */
  private strs: (string | undefined)[] = NO_STRINGS;
  /** Entries the storage has room for (0 until the first push). */
  private cap = 0;
  /** Physical index of the oldest entry. */
  head = 0;
  size = 0;

  constructor(layout: RingLayout) {
    this.layout = layout;
  }

  get max(): number {
    return this.layout.max;
  }

  get hasIds(): boolean {
    return this.layout.hasIds;
  }

  get hasTraces(): boolean {
    return this.layout.hasTraces;
  }

  get hasValues(): boolean {
    return this.layout.hasValues;
  }

  get hasUsers(): boolean {
    return this.layout.hasUsers;
  }

  get full(): boolean {
    return this.size >= this.layout.max;
  }

  /** Physical index of the i-th entry, oldest first. */
  at(i: number): number {
    const j = this.head + i;
    const cap = this.cap;
    return j >= cap ? j - cap : j;
  }

  /** Time of the entry at physical index p. */
  timeAt(p: number): number {
    return this.nums[p * this.layout.numStride]!;
  }

  /** Value of the entry at physical index p (0 when values are not kept). */
  valueAt(p: number): number {
    return this.layout.hasValues ? this.nums[p * 2 + 1]! : 0;
  }

  /** Event id of the entry at physical index p ('' when ids are not kept). */
  idAt(p: number): string {
    return this.layout.hasIds ? this.strs[p * this.layout.strStride]! : '';
  }

  traceAt(p: number): string | undefined {
    return this.layout.hasTraces ? this.strs[p * this.layout.strStride + this.layout.traceOffset] : undefined;
  }

  /** User of the entry at physical index p ('' when users are not kept). */
  userAt(p: number): string {
    return this.layout.hasUsers ? this.strs[p * this.layout.strStride + this.layout.userOffset]! : '';
  }

  oldestTime(): number {
    return this.nums[this.head * this.layout.numStride]!;
  }

  newestIndex(): number {
    return this.at(this.size - 1);
  }

  /** Appends; when full, the oldest entry is overwritten (check `full` first to account for it). */
  push(time: number, id: string, trace: string | undefined, value: number, user?: string): void {
    if (this.size === this.cap) {
      if (this.size < this.layout.max) this.grow();
      else this.shift();
    }
    const p = this.at(this.size);
    const n = p * this.layout.numStride;
    this.nums[n] = time;
    if (this.layout.hasValues) this.nums[n + 1] = value;
    const stride = this.layout.strStride;
    if (stride !== 0) {
      const s = p * stride;
      if (this.layout.hasIds) this.strs[s] = id;
      if (this.layout.hasTraces) this.strs[s + this.layout.traceOffset] = trace;
      if (this.layout.hasUsers) this.strs[s + this.layout.userOffset] = user ?? '';
    }
    this.size++;
  }

  /**
   * The newest entry (there is one) becomes this event's, its value kept: a monotonic window's
   * repeat of its newest value stands in for it (conditions/repeats.ts), so the step stays in the
   * window as long as its last repeat does, and its evidence is that event.
   */
  replaceNewest(time: number, id: string, trace: string | undefined, user?: string): void {
    const p = this.at(this.size - 1);
    this.nums[p * this.layout.numStride] = time;
    const stride = this.layout.strStride;
    if (stride === 0) return;
    const s = p * stride;
    if (this.layout.hasIds) this.strs[s] = id;
    if (this.layout.hasTraces) this.strs[s + this.layout.traceOffset] = trace;
    if (this.layout.hasUsers) this.strs[s + this.layout.userOffset] = user ?? '';
  }

  /** Removes the oldest entry. */
  shift(): void {
    const stride = this.layout.strStride;
    // Drop references so evicted ids can be collected.
    if (stride !== 0) {
      const s = this.head * stride;
      for (let c = 0; c < stride; c++) this.strs[s + c] = undefined;
    }
    this.head = this.head + 1 === this.cap ? 0 : this.head + 1;
    this.size--;
  }

  /** Empties the ring (its storage stays for the next entries). */
  clear(): void {
    if (this.layout.strStride !== 0 && this.size > 0) this.strs.fill(undefined);
    this.head = 0;
    this.size = 0;
  }

  private grow(): void {
    // x1.5: small windows (most users hold a handful of events) waste less than doubling.
    const cap = Math.min(this.layout.max, Math.max(2, Math.ceil(this.cap * 1.5)));
    const ns = this.layout.numStride;
    const ss = this.layout.strStride;
    const nums = new Array<number>(cap * ns).fill(0);
    const strs = ss !== 0 ? new Array<string | undefined>(cap * ss).fill(undefined) : NO_STRINGS;
    for (let k = 0; k < this.size; k++) {
      const p = this.at(k);
      for (let c = 0; c < ns; c++) nums[k * ns + c] = this.nums[p * ns + c]!;
      for (let c = 0; c < ss; c++) strs[k * ss + c] = this.strs[p * ss + c];
    }
    this.nums = nums;
    this.strs = strs;
    this.cap = cap;
    this.head = 0;
  }
}

/** Emits the first `n` and last `n` entries of a ring (all when it holds at most 2n). */
export function ringEvidence(
  ring: Ring,
  n: number,
  out: (id: string, trace: string | undefined, user: string | undefined) => void,
): void {
  const size = ring.size;
  if (!ring.hasIds) return;
  for (let k = 0; k < size; k++) {
    if (k >= n && k < size - n) {
      k = size - n - 1;
      continue;
    }
    const i = ring.at(k);
    out(ring.idAt(i), ring.traceAt(i), ring.hasUsers ? ring.userAt(i) : undefined);
  }
}
