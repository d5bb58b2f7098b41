/**
 * Which lines of a guard's rewrite are lines of the original, unchanged: the line-level
 * alignment withMessageText uses to put a rewrite that changed the line count (a multi-line
 * private key redacted to one line) back into the message's slots, each change in its own slot.
 *
 * The rewrite is arbitrary text (a custom guard's), so the alignment is capped: lines are
 * hashed by their ends in one pass (no line strings are made), the common prefix and suffix lines are
 * matched first (linear), and the lines between them are aligned by Myers' O((N+M)·D) diff with
 * D (lines deleted plus lines inserted) at most MAX_EDITS and at most workBudget() steps (a step:
 * a diagonal tried, a pair of lines whose hashes agree, or a character of theirs compared); past
 * either cap the answer is undefined and the caller falls back to one changed range. A
 * redaction changes few lines (a 4096-bit RSA key is about 50), so the caps leave room for
 * several keys and many redacted lines.
 *
 * The step budget grows with the text (WORK_PER_CHAR a character, MAX_WORK at most) because
 * Myers' diff tries about D^2 / 2 diagonals whatever the text's size: with a fixed budget, a
 * 3 KiB message of a key and 250 one-email lines (D = 508) cost 4 ms to write back, 50 of them
 * in one request 160 ms against piiGuard's 7 ms to find them. With the budget, 100 such
 * messages take 5-8x piiGuard's check (55-60 ms; test/pii-redact-parts.test.ts), a hostile
 * 1 MiB rewrite about 100 ms, most of it the linear work outside the diff, and a key with a
 * list of 150 contacts (~50 characters a line) in other parts still aligns (200 does not: the
 * parts are merged, as past any cap).
 */

/** Lines deleted plus lines inserted between the common prefix and suffix. */
export const MAX_EDITS = 512;
/** Diagonals tried, lines compared and characters compared in the diff, at most. */
export const MAX_WORK = 1 << 21;
/** Steps of the diff per character of the two texts, and the steps any text gets. */
export const WORK_PER_CHAR = 4;
export const MIN_WORK = 1 << 12;

/** The diff's step budget for texts a and b: in proportion to their size, within the caps. */
export function workBudget(a: Lines, b: Lines): number {
  return Math.min(MAX_WORK, MIN_WORK + WORK_PER_CHAR * (a.text.length + b.text.length));
}

/** The lines of a text, by offset: line i is text.slice(start[i], start[i + 1] - 1). */
export interface Lines {
  readonly text: string;
  readonly count: number;
  readonly start: Int32Array;
  readonly hash: Int32Array;
}

/**
 * The lines of `text` (split on '\n') and a hash of each: of its length and its first and last
 * HASHED_ENDS characters, so hashing is O(lines) whatever their length (lines whose hashes
 * agree are compared in full, and the characters compared count against the step budget).
 */
export function linesOf(text: string): Lines {
  let count = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count++;
  const start = new Int32Array(count + 1);
  const hash = new Int32Array(count);
  for (let line = 0, from = 0; line < count; line++) {
    let end = text.indexOf('\n', from);
    if (end === -1) end = text.length;
    hash[line] = hashOf(text, from, end);
    start[line + 1] = end + 1;
    from = end + 1;
  }
  return { text, count, start, hash };
}

const HASHED_ENDS = 8;

/** FNV-1a of the length and the first and last HASHED_ENDS characters of text[from, end). */
function hashOf(text: string, from: number, end: number): number {
  let h = Math.imul(0x811c9dc5 ^ (end - from), 0x01000193);
  const head = Math.min(end, from + HASHED_ENDS);
  for (let i = from; i < head; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  for (let i = Math.max(head, end - HASHED_ENDS); i < end; i++)
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}

/** The text of line i. */
export function lineText(lines: Lines, i: number): string {
  return lines.text.slice(lines.start[i], lines.start[i + 1]! - 1);
}

/**
 * For each line of `a`, the index of the line of `b` it is aligned with (the same text), or -1
 * where the line was deleted or changed; undefined past the caps. The aligned pairs are
 * increasing in both indexes and as many as possible (a longest common subsequence).
 */
export function alignLines(a: Lines, b: Lines): Int32Array | undefined {
  const n = a.count;
  const m = b.count;
  const match = new Int32Array(n).fill(-1);
  const work = { left: Infinity };
  let pre = 0;
  while (pre < n && pre < m && same(a, pre, b, pre, work)) match[pre] = pre++;
  let suf = 0;
  while (suf < n - pre && suf < m - pre && same(a, n - 1 - suf, b, m - 1 - suf, work)) {
    match[n - 1 - suf] = m - 1 - suf;
    suf++;
  }
  work.left = workBudget(a, b);
  return diff(a, pre, n - suf, b, pre, m - suf, match, work) ? match : undefined;
}

/** Whether line i of a is line j of b; the characters compared (and one) are taken from work.left. */
function same(a: Lines, i: number, b: Lines, j: number, work: { left: number }): boolean {
  if (a.hash[i] !== b.hash[j]) return false;
  const from = a.start[i]!;
  const len = a.start[i + 1]! - 1 - from;
  const at = b.start[j]!;
  if (b.start[j + 1]! - 1 - at !== len) return false;
  work.left -= len + 1;
  return a.text.startsWith(b.text.slice(at, at + len), from);
}

/**
 * Myers' greedy diff of a's lines [a0, a1) against b's [b0, b1), writing the matched pairs into
 * match; false past the caps. `v[k]` is the furthest x reached on diagonal k = x - y; -1 marks a
 * diagonal not reachable inside the grid (so no path leaves it, and none ends outside it).
 */
function diff(
  a: Lines,
  a0: number,
  a1: number,
  b: Lines,
  b0: number,
  b1: number,
  match: Int32Array,
  work: { left: number },
): boolean {
  const n = a1 - a0;
  const m = b1 - b0;
  const maxD = Math.min(MAX_EDITS, n + m);
  const off = maxD + 1;
  const v = new Int32Array(2 * maxD + 3).fill(-1);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= maxD; d++) {
    for (let k = -d; k <= d; k += 2) {
      const step = d === 0 ? RIGHT : choose(v, off, k, d, n, m);
      let x = step === NONE ? -1 : step === DOWN ? v[off + k + 1]! : d === 0 ? 0 : v[off + k - 1]! + 1;
      if (x < 0) {
        // Tried too: a round visits every diagonal in reach, and the rounds are what cost D^2.
        v[off + k] = -1;
        work.left--;
        continue;
      }
      let y = x - k;
      // The cap is checked in the snake too: within one d, d diagonals could each run a snake
      // of every line (lines all alike), d * N before the check at the end of the round.
      while (x < n && y < m && work.left >= 0 && same(a, a0 + x, b, b0 + y, work)) {
        x++;
        y++;
      }
      v[off + k] = x;
      work.left--;
      if (x === n && y === m) {
        trace.push(v.slice(off - d, off + d + 1));
        backtrack(trace, d, n, m, (x1, y1) => (match[a0 + x1] = b0 + y1));
        return true;
      }
    }
    if (work.left < 0) return false;
    trace.push(v.slice(off - d, off + d + 1));
  }
  return false;
}

const NONE = 0;
const DOWN = 1;
const RIGHT = 2;

/**
 * How a path of d edits reaches diagonal k (d > 0), from the furthest points of d - 1 edits in
 * `v` (diagonal kk at v[off + kk]): DOWN from k + 1 (an insertion) or RIGHT from k - 1 (a
 * deletion), the one reaching the further x; NONE when neither stays in the n x m grid.
 */
function choose(v: Int32Array, off: number, k: number, d: number, n: number, m: number): number {
  const down = k === d ? -1 : v[off + k + 1]!;
  const right = k === -d || v[off + k - 1]! < 0 ? -1 : v[off + k - 1]! + 1;
  const downOk = down >= 0 && down - k <= m;
  const rightOk = right >= 0 && right <= n;
  if (downOk && (!rightOk || right - 1 < down)) return DOWN;
  return rightOk ? RIGHT : NONE;
}

/** Walks the trace back from (n, m), calling pair(x, y) for each snake's matched pairs. */
function backtrack(
  trace: readonly Int32Array[],
  dEnd: number,
  n: number,
  m: number,
  pair: (x: number, y: number) => void,
): void {
  let x = n;
  let y = m;
  for (let d = dEnd; d >= 0; d--) {
    const k = x - y;
    let startX = 0;
    let prevX = 0;
    let prevY = 0;
    if (d > 0) {
      // trace[d - 1] holds diagonals -(d-1)..d-1 at index kk + d - 1: widened by one each side
      // so that choose() reads it as the forward pass read v.
      const prev = trace[d - 1]!;
      const wide = new Int32Array(prev.length + 2).fill(-1);
      wide.set(prev, 1);
      const step = choose(wide, d, k, d, n, m);
      const pk = step === DOWN ? k + 1 : k - 1;
      prevX = wide[d + pk]!;
      prevY = prevX - pk;
      startX = step === DOWN ? prevX : prevX + 1;
    }
    // The snake: (startX, startX - k) .. (x, y) along diagonal k.
    for (let sx = startX; sx < x; sx++) pair(sx, sx - k);
    x = prevX;
    y = prevY;
  }
}
