/** One lane's stream check: PiiStreamRedaction (redact mode) or PiiBlockLane (block mode). */
export interface LaneCheck {
  /** A delta of this lane arrived: how many characters at the lane's end are held back. */
  push(delta: string): number;
  /** Characters of this lane held back now. */
  readonly held: number;
  /** The next characters of this lane, as the reader gets them. */
  next(text: string): string;
  /** Where the last `next` changed its text (PiiStreamRedaction.changes); absent: not known. */
  readonly changes?: readonly number[] | undefined;
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
 * branch per delta. At most MAX_LANES lanes are tracked for holds (OpenAI's n is at most 128;
 * the hold is found by a walk over the lanes on every delta). A choice past them (a legacy
 * completions stream of a list of prompts x n) still gets a check of its own, but holds are no
 * longer worked out for it: from its first character on, the whole stream is held back until
 * the end, when every check has its whole text (fail closed). Before, those choices shared one
 * lane, redacted as interleaved text: part of a finding cut by another choice's chunk reached the
 * reader raw. Their checks are kept per choice (one check's state each, as the stream
 * accumulator keeps each choice's text), walked only at the end.
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
  /** Choices past MAX_LANES: each one's check, not walked per delta. */
  private overflow: Map<number, L> | undefined;
  /** The stream offset of the first overflow character (-1: none): held from there to the end. */
  private overflowFrom = -1;

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
        const piece = delta.slice(at, at + len);
        const l = this.lane(id);
        if (l !== undefined) this.pushLane(l, piece, this.offset + at);
        else this.pushOverflow(id, piece, this.offset + at);
        at += len;
      }
    } else {
      this.pushLane(this.lane(0)!, delta, this.offset); // not announced: the first lane's (always tracked)
    }
    this.offset += delta.length;
    return this.offset - this.earliestHeld();
  }

  /** The next `text.length` characters of lane `id`, as the reader gets them. */
  next(text: string, id = 0): string {
    if (this.lanes === undefined && id === 0) return this.first.next(text);
    const o = this.overflow?.get(id);
    if (o !== undefined) return o.next(text);
    return (this.lane(id)?.r ?? this.overflowCheck(id)).next(text);
  }

  /** Where the last `next` of lane `id` changed its text (PiiStreamRedaction.changes). */
  changes(id = 0): readonly number[] | undefined {
    if (this.lanes === undefined && id === 0) return this.first.changes;
    const o = this.overflow?.get(id);
    if (o !== undefined) return o.changes;
    return this.lanes?.get(id)?.r.changes;
  }

  end(): void {
    if (this.lanes === undefined) this.first.end();
    else for (const l of this.lanes.values()) l.r.end();
    if (this.overflow !== undefined) for (const r of this.overflow.values()) r.end();
  }

  /** Lane `id`, made if there is room; undefined for a choice past MAX_LANES (an overflow one). */
  private lane(id: number): Lane<L> | undefined {
    const lanes = (this.lanes ??= new Map([[0, laneOf(this.first, this.offset)]]));
    const l = lanes.get(id);
    if (l !== undefined) return l;
    return lanes.size >= MAX_LANES ? undefined : this.addLane(id);
  }

  private overflowCheck(id: number): L {
    const overflow = (this.overflow ??= new Map());
    let r = overflow.get(id);
    if (r === undefined) overflow.set(id, (r = this.make()));
    return r;
  }

  /** A piece of a choice past MAX_LANES: its own check; the stream is held from its first such character. */
  private pushOverflow(id: number, text: string, streamStart: number): void {
    if (text.length === 0) return;
    if (this.overflowFrom < 0) this.overflowFrom = streamStart;
    this.overflowCheck(id).push(text);
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
    let earliest = this.overflowFrom >= 0 ? this.overflowFrom : this.offset;
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
