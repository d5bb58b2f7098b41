import { commonPrefix, commonSuffix } from './common-ends.ts';

/**
 * Annotation offsets in a rewritten stream (OpenAI chat chunks' `delta.annotations`: web-search
 * models send `url_citation`s with `start_index` / `end_index` into the choice's content). The
 * reader gets the content as rewritten (piiGuard redact: a placeholder in place of an address,
 * a different length), so offsets into the text as sent point at the wrong characters; the
 * complete answer's are realigned by annotation-offsets.ts, and this does the same for a stream
 * from what each chunk's content was and became.
 *
 * Each chunk whose text the rewrite changed is recorded as the region that differs (its common
 * prefix and suffix with the rewrite taken off). An annotation outside every such region is
 * moved by the change in length before it; one that overlaps a region, or points past the text
 * delivered so far (its text may still change), is removed: fail closed. Per chunk two additions
 * (plus the region of a changed one); an annotation is placed by a binary search: linear overall.
 */
export class StreamOffsets {
  private raw = 0;
  private out = 0;
  /** Per changed region, flat: its start and end in the text as sent, and out - raw after it. */
  private readonly regions: number[] = [];

  /**
   * The next chunk's text as sent (`before`) and as delivered (`after`); `changes`, when the
   * rewriter says where it changed the chunk (flat [start, end, replacement length], in order):
   * each is a region of its own, so the text between two changes of one chunk (the end of one
   * address, ', ', the start of the next) keeps its annotations. Without, the region is what
   * differs between the two (their common prefix and suffix taken off).
   */
  add(before: string, after: string, changes?: readonly number[]): void {
    if (changes !== undefined && changes.length > 0 && before !== after && fits(changes, before, after)) {
      let shift = this.out - this.raw;
      for (let c = 0; c + 2 < changes.length; c += 3) {
        const lo = changes[c] as number;
        const hi = changes[c + 1] as number;
        shift += (changes[c + 2] as number) - (hi - lo);
        this.regions.push(this.raw + lo, this.raw + hi, shift);
      }
    } else if (before !== after) {
      const p = commonPrefix(before, after);
      const q = commonSuffix(before, after, p);
      this.regions.push(
        this.raw + p,
        this.raw + before.length - q,
        this.out + after.length - (this.raw + before.length),
      );
    }
    this.raw += before.length;
    this.out += after.length;
  }

  /** The shift for a span [lo, hi] of the text as sent; undefined when it cannot be placed. */
  shift(lo: number, hi: number): number | undefined {
    if (!(lo >= 0 && hi >= lo && hi <= this.raw)) return undefined;
    // The last region starting before hi (regions are disjoint and in order).
    let a = 0;
    let b = this.regions.length / 3;
    while (a < b) {
      const m = (a + b) >> 1;
      if ((this.regions[3 * m] as number) < hi) a = m + 1;
      else b = m;
    }
    if (a === 0) return 0;
    const r = 3 * (a - 1);
    if ((this.regions[r + 1] as number) > lo) return undefined; // it overlaps that region
    return this.regions[r + 2] as number;
  }
}

/** The changes account for `after` exactly (in order, within `before`, lengths adding up); else not used. */
function fits(changes: readonly number[], before: string, after: string): boolean {
  let at = 0;
  let length = before.length;
  for (let c = 0; c + 2 < changes.length; c += 3) {
    const lo = changes[c] as number;
    const hi = changes[c + 1] as number;
    if (!(lo >= at && hi > lo && hi <= before.length)) return false;
    length += (changes[c + 2] as number) - (hi - lo);
    at = hi;
  }
  return changes.length % 3 === 0 && length === after.length;
}

type Obj = Record<string, unknown>;
const OFFSETS = ['start_index', 'end_index', 'index'] as const;

/** `list` with each annotation's offsets moved by `offsets`, those it cannot place removed (a new list when any is). */
export function placeAnnotations(list: unknown[], offsets: StreamOffsets): unknown[] {
  let kept: unknown[] | undefined;
  for (const [i, entry] of list.entries()) {
    if (place(entry, offsets)) kept?.push(entry);
    else kept ??= list.slice(0, i);
  }
  return kept ?? list;
}

function place(entry: unknown, offsets: StreamOffsets): boolean {
  const a = asObj(entry);
  if (a === undefined) return true;
  const nested = typeof a.type === 'string' ? asObj(a[a.type]) : undefined;
  const o = nested !== undefined && OFFSETS.some((f) => typeof nested[f] === 'number') ? nested : a;
  let lo = Infinity;
  let hi = -Infinity;
  for (const f of OFFSETS) {
    const v = o[f];
    if (typeof v !== 'number') continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (lo === Infinity) return true;
  const shift = offsets.shift(lo, hi);
  if (shift === undefined) return false;
  if (shift !== 0)
    for (const f of OFFSETS) {
      const v = o[f];
      if (typeof v === 'number') o[f] = v + shift;
    }
  return true;
}

function asObj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}
