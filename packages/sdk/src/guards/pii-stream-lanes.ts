/** One lane's stream check: PiiStreamRedaction (redact mode) or PiiBlockLane (block mode). */
export interface LaneCheck {
  /** A delta of this lane arrived: how many characters at the lane's end are held back. */
  push(delta: string): number;
  /** Characters of this lane held back now. */
  readonly held: number;
  /** The next characters of this lane, as the reader gets them. */
  next(text: string): string;
  end(): void;
}

/**
 * piiGuard redact (and block) on a stream whose text is several texts interleaved: an OpenAI chat stream
 * with `n` > 1 sends each choice's deltas in its own chunks, one choice after another, and the
 * stream observer sees them as one text. Redacted as one text, a finding of choice 0 cut by a
 * chunk of choice 1 ('4111 1111 ' + 'Hello ' + '1111 1111') is no finding and reached the
 * reader raw (block mode did not cut it). So each lane (choice index) gets its own check, and the hold the
 * observer applies is counted from the earliest character any lane has not released, mapped
 * back to the stream's offsets through the pieces each lane was given.
 *
 * A stream of one lane (every stream but chat with n > 1) never leaves `first`: the cost is one
 * branch per delta. At most MAX_LANES lanes (OpenAI's n is at most 128); choices past that share
 * one lane, redacted as interleaved text (as before this split).
 */
export class PiiStreamLanes<L extends LaneCheck = LaneCheck> {
  private readonly make: () => L;
  private readonly first: L;
  /** Undefined while every delta was lane 0's. */
  private lanes: Map<number, Lane<L>> | undefined;
  /** How the next delta splits into lanes (announced by the observer before the chunk check). */
  private split: ReadonlyArray<readonly [number, number]> | undefined;
  /** Stream characters pushed. */
  private offset = 0;

  constructor(make: () => L) {
    this.make = make;
    this.first = make();
  }

  /** The next delta's text is these lanes' pieces, in order: `[lane, length]`. */
  announce(split: ReadonlyArray<readonly [number, number]>): void {
    this.split = split;
  }

  /** A delta arrived: how many characters at the end of the stream must be held back. */
  push(delta: string): number {
    const split = this.split;
    this.split = undefined;
    if (this.lanes === undefined) {
      if (split === undefined || (split.length === 1 && split[0]![0] === 0)) {
        this.offset += delta.length;
        return this.first.push(delta);
      }
      this.lanes = new Map([[0, laneOf(this.first, this.offset)]]);
    }
    let at = 0;
    if (split !== undefined && sum(split) === delta.length) {
      for (const [id, len] of split) {
        this.pushLane(this.lane(id), delta.slice(at, at + len), this.offset + at);
        at += len;
      }
    } else {
      this.pushLane(this.lane(0), delta, this.offset); // not announced: the first lane's
    }
    this.offset += delta.length;
    return this.offset - this.earliestHeld();
  }

  /** The next `text.length` characters of lane `id`, as the reader gets them. */
  next(text: string, id = 0): string {
    if (this.lanes === undefined && id === 0) return this.first.next(text);
    return this.lane(id).r.next(text);
  }

  end(): void {
    if (this.lanes === undefined) this.first.end();
    else for (const l of this.lanes.values()) l.r.end();
  }

  private lane(id: number): Lane<L> {
    const lanes = (this.lanes ??= new Map([[0, laneOf(this.first, this.offset)]]));
    let l = lanes.get(id);
    if (l === undefined) {
      if (lanes.size >= MAX_LANES) return lanes.get(OVERFLOW) ?? this.addLane(OVERFLOW);
      l = this.addLane(id);
    }
    return l;
  }

  private addLane(id: number): Lane<L> {
    const l = laneOf(this.make(), this.offset);
    this.lanes!.set(id, l);
    return l;
  }

  private pushLane(l: Lane<L>, text: string, streamStart: number): void {
    if (text.length === 0) return;
    l.starts.push(l.total);
    l.at.push(streamStart);
    l.total += text.length;
    l.held = l.r.push(text);
  }

  /** The stream offset of the earliest character a lane still holds (the stream's end when none). */
  private earliestHeld(): number {
    let earliest = this.offset;
    for (const l of this.lanes!.values()) {
      if (l.held === 0) {
        l.starts.length = 0;
        l.at.length = 0;
        l.head = 0;
        continue;
      }
      const from = l.total - l.held;
      // Pieces wholly released are dropped (amortised: each piece is passed once).
      while (l.head + 1 < l.starts.length && l.starts[l.head + 1]! <= from) l.head++;
      if (l.head > 64 && l.head * 2 > l.starts.length) {
        l.starts.splice(0, l.head);
        l.at.splice(0, l.head);
        l.head = 0;
      }
      const s = l.at[l.head]! + (from - l.starts[l.head]!);
      if (s < earliest) earliest = s;
    }
    return earliest;
  }
}

interface Lane<L extends LaneCheck> {
  r: L;
  /** Lane characters pushed, and how many of the last ones the lane holds. */
  total: number;
  held: number;
  /** The pieces not wholly released: each one's first lane character and its stream offset. */
  starts: number[];
  at: number[];
  head: number;
}

/** A lane for `r`, whose held text (if any) is the stream's last characters before `offset`. */
function laneOf<L extends LaneCheck>(r: L, offset: number): Lane<L> {
  const held = r.held;
  return { r, total: offset, held, starts: [offset - held], at: [offset - held], head: 0 };
}

function sum(split: ReadonlyArray<readonly [number, number]>): number {
  let n = 0;
  for (const [, len] of split) n += len;
  return n;
}

/** OpenAI's `n` is at most 128. */
const MAX_LANES = 128;
const OVERFLOW = -1;
