/**
 * A guard's rewrite of text parts the provider reads back to back (a run of adjacent text
 * parts, joined with '': message-text.ts) cut back into one piece per part. The parts meet
 * anywhere in a line, so where each cut goes in the rewrite is found by the text around it:
 *
 * - a cut before the first changed character or after the last stays where it was, shifted;
 * - a cut between two changes is found by the old text either side of it (32 characters each
 *   side, then 8, then 16 on one side alone), searched for in the rewrite after the cut before
 *   it, within a window that grows with the distance from that cut; else by a whole part next
 *   to it whose text is in the rewrite (a part none changed between two changes a few
 *   characters apart); the searches share a budget linear in the text;
 * - a cut inside a change (an email redacted across it), or one whose text was not found, goes
 *   to the end of the change between the cuts found either side of it (their common prefix
 *   and suffix): the part before it gets the change (the placeholder), the part after the text
 *   after it. So a redaction across a cut removes the piece on both sides.
 *
 * Whatever the cuts, the pieces joined are exactly `text`: no path sends text the guard
 * removed. A cut placed wrong (text around it repeated, two changes in a few characters) moves
 * text between neighbouring parts, and a part left with no text is removed (undefined), as a
 * merge in slot-lines.ts does; the first part keeps '' when the whole run was emptied.
 */

/** Old characters compared each side of a cut, longest first. */
const CONTEXTS = [32, 8] as const;
/** Context searched for on one side alone (the other side changed). */
const SIDE = 16;
/** Window past where a cut would be with no change between it and the last cut found. */
const SLACK = 256;
/**
 * Characters the searches of one call may scan, per character of the old and new text (and
 * the least any call gets): the windows are linear in all for cuts found, but a run of cuts
 * none is found for widens each next window from the last found; past the budget a cut is
 * placed by the prefix / suffix rules alone.
 */
const SEARCH_PER_CHAR = 8;
const MIN_SEARCH = 1 << 16;

/** The rewrite, searched in windows, and the characters the searches may still scan. */
interface Search {
  readonly text: string;
  left: number;
}

/** `text` in pieces, one per slot of `slots` (which joined with '' were the old text). */
export function splitByChars(slots: readonly string[], text: string): Array<string | undefined> {
  const n = slots.length;
  const old = slots.join('');
  const seam = new Int32Array(n + 1);
  for (let j = 0; j < n; j++) seam[j + 1] = seam[j]! + (slots[j] as string).length;
  const { pre, suf } = ends(old, 0, old.length, text, 0, text.length);
  const oldChangeEnd = old.length - suf;
  const newChangeEnd = text.length - suf;
  // at[j]: where slot j begins in `text`; -1 until found.
  const at = new Int32Array(n + 1).fill(-1);
  const search: Search = { text, left: MIN_SEARCH + SEARCH_PER_CHAR * (old.length + text.length) };
  at[0] = 0;
  at[n] = text.length;
  let prevO = 0;
  let prevP = 0;
  for (let j = 1; j < n; j++) {
    const o = seam[j]!;
    let p = -1;
    if (o <= pre) p = o;
    else if (o >= oldChangeEnd) p = o - old.length + text.length;
    else {
      const lo = Math.max(prevP, pre);
      const hi = Math.min(newChangeEnd, prevP + 4 * (o - prevO) + SLACK);
      p = anchor(old, o, search, lo, hi);
    }
    if (p >= 0) {
      at[j] = p;
      prevO = o;
      prevP = p;
    }
  }
  placeUnfound(old, seam, search, at, slots, pre);
  return pieces(slots, text, at);
}

/** The cut at old offset o found by the old text around it, in text[lo, hi]; -1 if not found. */
function anchor(old: string, o: number, text: Search, lo: number, hi: number): number {
  for (const k of CONTEXTS) {
    const l = old.slice(Math.max(0, o - k), o);
    const r = old.slice(o, o + k);
    const i = find(text, l + r, lo - l.length, hi + r.length);
    if (i >= 0) return i + l.length;
  }
  // One side changed: the change ends at the cut (the text after it is found) or begins there.
  const r = old.slice(o, o + SIDE);
  const ir = find(text, r, lo, hi + r.length);
  if (ir >= 0) return ir;
  const l = old.slice(Math.max(0, o - SIDE), o);
  const il = find(text, l, lo - l.length, hi);
  return il >= 0 ? il + l.length : -1;
}

/**
 * The first index of needle wholly inside text[from, to), or -1 (an empty needle is not found,
 * nor anything past the search budget).
 */
function find(search: Search, needle: string, from: number, to: number): number {
  const text = search.text;
  const lo = Math.max(0, from);
  const hi = Math.min(text.length, to);
  if (needle.length === 0 || hi - lo < needle.length) return -1;
  search.left -= hi - lo;
  if (search.left < 0) return -1;
  const i = text.slice(lo, hi).indexOf(needle);
  return i < 0 ? -1 : lo + i;
}

/**
 * The cuts not found by their context: first each part between two found cuts whose text is
 * in the rewrite whole (a part none changed, between two changes a few characters apart) is
 * looked for after the last part placed, within a window as in splitByChars; then each cut
 * still not found goes, between the found cuts either side of it (old [o0, o1) against new
 * [p0, p1)), where that stretch's common prefix or suffix puts it, else to the end of the
 * stretch's change.
 */
function placeUnfound(
  old: string,
  seam: Int32Array,
  search: Search,
  at: Int32Array,
  slots: readonly string[],
  pre: number,
): void {
  const text = search.text;
  const n = at.length - 1;
  // nextFound[k]: the first cut after k found by its context (the pass below only places
  // cuts at or before the next part's start, so this stays true through it).
  const nextFound = new Int32Array(n + 1).fill(n);
  for (let k = n - 1; k >= 0; k--) nextFound[k] = at[k + 1]! >= 0 ? k + 1 : nextFound[k + 1]!;
  let lastO = 0;
  let cursor = 0;
  for (let k = 0; k < n; k++) {
    if (at[k]! >= 0 && at[k]! >= cursor) {
      lastO = seam[k]!;
      cursor = at[k]!;
    }
    if (at[k]! >= 0 && at[k + 1]! >= 0) continue;
    const part = slots[k] as string;
    if (part.length === 0) continue;
    // A part after the first changed character is after it in the rewrite too.
    if (seam[k]! > pre) cursor = Math.max(cursor, pre);
    const end = at[k + 1]!;
    if (end >= 0) {
      // Its end is found: the part is there whole when the rewrite has it just before.
      if (end - part.length >= cursor && text.startsWith(part, end - part.length)) at[k] = end - part.length;
      continue;
    }
    const hi = Math.min(at[nextFound[k]!]!, cursor + 4 * (seam[k + 1]! - lastO) + SLACK);
    // Its start is found: the part is there whole when the rewrite has it just after.
    const i =
      at[k]! >= 0
        ? at[k]! + part.length <= hi && text.startsWith(part, at[k]!)
          ? at[k]!
          : -1
        : find(search, part, cursor, hi);
    if (i < 0) continue;
    at[k] = i;
    at[k + 1] = i + part.length;
    lastO = seam[k + 1]!;
    cursor = i + part.length;
  }
  // Twice: the first pass places the cuts the stretch's prefix, suffix or kept length place
  // exactly, the second the others, inside the finer stretches the first left, at the end of
  // their change. Within a stretch the rules give positions that grow with the old offset, so
  // the cuts stay in order.
  fill(old, seam, text, at, false);
  fill(old, seam, text, at, true);
}

/** One pass over the stretches of cuts not found (see placeUnfound); `last`: place every cut. */
function fill(old: string, seam: Int32Array, text: string, at: Int32Array, last: boolean): void {
  const n = at.length - 1;
  const placed: number[] = [];
  for (let j = 1; j < n;) {
    if (at[j]! >= 0) {
      j++;
      continue;
    }
    let next = j + 1;
    while (at[next]! < 0) next++;
    const o0 = seam[j - 1]!;
    const p0 = at[j - 1]!;
    const o1 = seam[next]!;
    const p1 = at[next]!;
    const { pre, suf } = ends(old, o0, o1, text, p0, p1);
    // A stretch rewritten to as many characters keeps a cut at its offset where a character
    // next to the cut is unchanged there (a mask of some characters, character for character);
    // with changed characters both sides the cut is inside a change (a redaction as long as
    // what it replaced, or a mask of all) and goes to its end.
    const same = o1 - o0 === p1 - p0;
    for (let k = j; k < next; k++) {
      const o = seam[k]!;
      const q = p0 + (o - o0);
      const kept =
        same &&
        (old.charCodeAt(o - 1) === text.charCodeAt(q - 1) || old.charCodeAt(o) === text.charCodeAt(q));
      const p = kept || o - o0 <= pre ? q : o1 - o <= suf ? p1 - (o1 - o) : last ? p1 - suf : -1;
      if (p >= 0) placed.push(k, p);
    }
    j = next;
  }
  // Written after the pass, so every stretch is read between the cuts found before it.
  for (let i = 0; i < placed.length; i += 2) at[placed[i]!] = placed[i + 1]!;
}

/** The common prefix and suffix of old[o0, o1) and text[p0, p1), not overlapping. */
function ends(
  old: string,
  o0: number,
  o1: number,
  text: string,
  p0: number,
  p1: number,
): { pre: number; suf: number } {
  const max = Math.min(o1 - o0, p1 - p0);
  let pre = 0;
  while (pre < max && old.charCodeAt(o0 + pre) === text.charCodeAt(p0 + pre)) pre++;
  let suf = 0;
  while (suf < max - pre && old.charCodeAt(o1 - 1 - suf) === text.charCodeAt(p1 - 1 - suf)) suf++;
  return { pre, suf };
}

/** The slots' pieces: a slot that had text and gets none is removed (undefined), the first kept if all are. */
function pieces(slots: readonly string[], text: string, at: Int32Array): Array<string | undefined> {
  const out: Array<string | undefined> = [];
  for (let j = 0; j < slots.length; j++) {
    const piece = text.slice(at[j], at[j + 1]);
    out.push(piece === '' && (slots[j] as string) !== '' ? undefined : piece);
  }
  if (text === '' && !out.includes('')) out[0] = '';
  return out;
}
