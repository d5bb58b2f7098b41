// The Ring before issue 13 (a plain array per column), kept as the reference of ring.test.ts.
/**
 * A bounded FIFO of window entries (event time, event id, trace id, user, value) in parallel
 * arrays: plain JS arrays, because typed arrays cost more than a small window holds, and
 * parallel arrays because one object per entry would allocate on every event. Storage starts
 * small and doubles up to `max`; a full ring drops its oldest entry (the caller adjusts its
 * aggregates first, see `full` / `oldest*`).
 */
export class RingV1 {
  times: number[];
  /** Event ids, for evidence; conditions that take evidence from their triggers skip them. */
  ids: string[] | undefined;
  /** Only when asked for: trace ids cost memory per event, and per-user request rings are many. */
  traces: (string | undefined)[] | undefined;
  /** Only for conditions that read a value (monotonic, identical, ratio flags). */
  values: number[] | undefined;
  /** Only for cross-group conditions. */
  users: string[] | undefined;
  /** Index of the oldest entry. */
  head = 0;
  size = 0;
  readonly max: number;

  constructor(
    max: number,
    options: { ids?: boolean; values?: boolean; users?: boolean; traces?: boolean } = {},
  ) {
    this.max = Math.max(1, max);
    const cap = Math.min(this.max, 2);
    this.times = new Array<number>(cap).fill(0);
    this.ids = options.ids === false ? undefined : new Array<string>(cap).fill('');
    this.traces = options.traces ? new Array<string | undefined>(cap).fill(undefined) : undefined;
    this.values = options.values ? new Array<number>(cap).fill(0) : undefined;
    this.users = options.users ? new Array<string>(cap).fill('') : undefined;
  }

  get full(): boolean {
    return this.size >= this.max;
  }

  /** Physical index of the i-th entry, oldest first. */
  at(i: number): number {
    const j = this.head + i;
    const cap = this.times.length;
    return j >= cap ? j - cap : j;
  }

  oldestTime(): number {
    return this.times[this.head]!;
  }

  newestIndex(): number {
    return this.at(this.size - 1);
  }

  /** Appends; when full, the oldest entry is overwritten (check `full` first to account for it). */
  push(time: number, id: string, trace: string | undefined, value: number, user?: string): void {
    if (this.size === this.times.length) {
      if (this.size < this.max) this.grow();
      else this.shift();
    }
    const i = this.at(this.size);
    this.times[i] = time;
    if (this.ids) this.ids[i] = id;
    if (this.traces) this.traces[i] = trace;
    if (this.values) this.values[i] = value;
    if (this.users) this.users[i] = user ?? '';
    this.size++;
  }

  /** Removes the oldest entry. */
  shift(): void {
    // Drop references so evicted ids can be collected.
    if (this.ids) this.ids[this.head] = '';
    if (this.traces) this.traces[this.head] = undefined;
    this.head = this.head + 1 === this.times.length ? 0 : this.head + 1;
    this.size--;
  }

  clear(): void {
    while (this.size > 0) this.shift();
    this.head = 0;
  }

  private grow(): void {
    // x1.5: small windows (most users hold a handful of events) waste less than doubling.
    const cap = Math.min(this.max, Math.max(2, Math.ceil(this.times.length * 1.5)));
    const times = new Array<number>(cap).fill(0);
    const ids = this.ids ? new Array<string>(cap).fill('') : undefined;
    const traces = this.traces ? new Array<string | undefined>(cap).fill(undefined) : undefined;
    const values = this.values ? new Array<number>(cap).fill(0) : undefined;
    const users = this.users ? new Array<string>(cap).fill('') : undefined;
    for (let k = 0; k < this.size; k++) {
      const i = this.at(k);
      times[k] = this.times[i]!;
      if (ids) ids[k] = this.ids![i]!;
      if (traces) traces[k] = this.traces![i];
      if (values) values[k] = this.values![i]!;
      if (users) users[k] = this.users![i]!;
    }
    this.times = times;
    this.ids = ids;
    this.traces = traces;
    this.values = values;
    this.users = users;
    this.head = 0;
  }
}

/** Emits the first `n` and last `n` entries of a ring (all when it holds at most 2n). */
export function ringEvidenceV1(
  ring: RingV1,
  n: number,
  out: (id: string, trace: string | undefined, user: string | undefined) => void,
): void {
  const size = ring.size;
  if (!ring.ids) return;
  for (let k = 0; k < size; k++) {
    if (k >= n && k < size - n) {
      k = size - n - 1;
      continue;
    }
    const i = ring.at(k);
    out(ring.ids[i]!, ring.traces?.[i], ring.users?.[i]);
  }
}
