import { type Lines, alignLines, lineText, linesOf } from './line-align.ts';

/**
 * A guard's rewrite of several text slots (joined with '\n') cut back into one piece per slot,
 * when the rewrite changed the line count: by the lines it kept (alignLines). A slot boundary
 * survives when a kept line is next to it: the first line after it (what the rewrite inserted
 * before that line goes to the slot before), or the last line before it with the change after
 * it beginning at the boundary. A boundary inside a run of changed lines is cut line by line
 * when the run kept its line count (lines redacted within themselves); when the run changed it
 * (a key redacted at the end of one slot, an email in the first line of the next), at the one
 * cut of the run's new lines that best fits: the lines either side of it begin and end as the
 * old lines either side of the boundary did (the text a redaction leaves around its
 * placeholder). With no such evidence, or a tie, the change is taken to span the boundary, and
 * the slots either side of a lost boundary are merged: the first gets the new text of them
 * all, the others undefined.
 *
 * For a rewrite whose changed lines differ from the lines it kept (a placeholder in each, as
 * redact() writes), the alignment is exact, so a slot no change touched gets its own text back.
 */

/** Characters compared at each end of a line when fitting a cut, and cuts tried per call: past
 * them a boundary is lost (merged), so a hostile rewrite costs at most MAX_CUTS * 4 * MAX_FIT_CHARS. */
const MAX_FIT_CHARS = 256;
const MAX_CUTS = 4096;

/** `text` in pieces, one per slot (undefined: a slot left with no text); undefined past the caps. */
export function splitByLines(slots: readonly string[], text: string): Array<string | undefined> | undefined {
  const old = linesOf(slots.join('\n'));
  const lines = linesOf(text);
  const match = alignLines(old, lines);
  if (match === undefined) return undefined;
  // nextKept[i]: the first old line at or after i aligned with a new line (n: none).
  const n = old.count;
  const nextKept = new Int32Array(n + 1).fill(n);
  for (let i = n - 1; i >= 0; i--) nextKept[i] = match[i]! >= 0 ? i : nextKept[i + 1]!;
  // at[j]: the new line slot j begins at, -1 where its boundary is lost.
  const at: number[] = [0];
  let lastKept = -1;
  let lastAt = 0;
  let cuts = 0;
  let start = 0;
  for (let j = 1; j < slots.length; j++) {
    const end = start + lineCount(slots[j - 1] as string);
    for (; start < end; start++) if (match[start]! >= 0) lastKept = start;
    let cut: number;
    if (match[start]! >= 0) cut = match[start]!;
    else if (lastKept === start - 1) cut = match[lastKept]! + 1;
    else {
      // Inside a run of changed lines: old [a0, next), new [b0, b1). As many lines as before:
      // line by line, as split() does for the whole text (each line redacted within itself).
      const a0 = lastKept + 1;
      const next = nextKept[start]!;
      const b0 = lastKept < 0 ? 0 : match[lastKept]! + 1;
      const b1 = next < n ? match[next]! : lines.count;
      if (next - a0 === b1 - b0) cut = b0 + (start - a0);
      else {
        const from = Math.max(lastAt, b0);
        cuts += b1 - from + 1;
        cut = cuts > MAX_CUTS ? -1 : bestCut(lineText(old, start - 1), lineText(old, start), lines, from, b1);
      }
    }
    at.push(cut);
    if (cut >= 0) lastAt = cut;
  }
  at.push(lines.count);
  const out: Array<string | undefined> = [];
  for (let j = 0; j < slots.length;) {
    let end = j + 1;
    while (end < slots.length && at[end] === -1) end++;
    const from = at[j] as number;
    const to = at[end] as number;
    out.push(from < to ? text.slice(lines.start[from], lines.start[to]! - 1) : undefined);
    for (let e = j + 1; e < end; e++) out.push(undefined);
    j = end;
  }
  return out;
}

/**
 * The cut s in [b0, b1] of the new lines that best fits a boundary between old lines `before`
 * and `after`: the most of `before` in line s - 1 plus of `after` in line s (fit); -1 when the
 * best fit shares nothing or is not the only best.
 */
function bestCut(before: string, after: string, lines: Lines, b0: number, b1: number): number {
  let best = -1;
  let bestScore = 0;
  let tie = false;
  for (let s = b0; s <= b1; s++) {
    const score =
      (s > b0 ? fit(before, lineText(lines, s - 1)) : 0) + (s < b1 ? fit(after, lineText(lines, s)) : 0);
    if (score > bestScore) [best, bestScore, tie] = [s, score, false];
    else if (score === bestScore && score > 0) tie = true;
  }
  return tie ? -1 : best;
}

/** How much of a changed line b is old line a: the text a redaction leaves at its two ends. */
function fit(a: string, b: string): number {
  return commonPrefix(a, b) + commonSuffix(a, b);
}

function commonPrefix(a: string, b: string): number {
  const max = Math.min(a.length, b.length, MAX_FIT_CHARS);
  let i = 0;
  while (i < max && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

function commonSuffix(a: string, b: string): number {
  const max = Math.min(a.length, b.length, MAX_FIT_CHARS);
  let i = 0;
  while (i < max && a.charCodeAt(a.length - 1 - i) === b.charCodeAt(b.length - 1 - i)) i++;
  return i;
}

function lineCount(s: string): number {
  let n = 1;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) n++;
  return n;
}
