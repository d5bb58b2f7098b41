import {
  detectSensitive,
  findSensitive,
  redact,
  redactionPlaceholder,
  type RedactOptions,
  type RedactResult,
  type RedactionType,
  type SensitiveSpan,
} from '@llmsec/core';
import type { GuardMessage } from '../instrumentation/types.ts';

/**
 * piiGuard's reading of a message whose text parts are read back to back (GuardMessage.cuts).
 * The join is how the model reads them, so data cut across two parts is whole in it; but the
 * provider receives each part's text, and data whole in one part can vanish from the join:
 * 'jane@example.com' + '42' reads 'jane@example.com42', no address to core's detector (a TLD
 * runs into a digit, a phone into a letter, a card into one more digit). So the message is
 * read both ways: the join, and the parts apart (with a separator at each cut, one more scan
 * of the text whatever the number of parts). Redact mode replaces what either reading finds.
 * (Was: read joined only since 54c25b7, so redact sent such an address to the provider whole,
 * and detect and block modes missed it.)
 */

/** The usable cuts of a message: offsets strictly inside its text, increasing; others skipped. Never throws. */
function cutsOf(m: GuardMessage): number[] | undefined {
  try {
    const cuts = m.cuts;
    if (!Array.isArray(cuts) || cuts.length === 0) return undefined;
    const out: number[] = [];
    let prev = 0;
    for (const c of cuts as unknown[]) {
      if (typeof c === 'number' && Number.isInteger(c) && c > prev && c < m.content.length) {
        out.push(c);
        prev = c;
      }
    }
    return out.length > 0 ? out : undefined;
  } catch {
    return undefined; // a custom guard's message with a hostile cuts value: read as the join only
  }
}

/** `text` with `sep` at each cut: the parts read apart. */
function apart(text: string, cuts: readonly number[], sep: string): string {
  let out = '';
  let at = 0;
  for (const c of cuts) {
    out += text.slice(at, c) + sep;
    at = c;
  }
  return out + text.slice(at);
}

function union(a: readonly RedactionType[], b: readonly RedactionType[]): RedactionType[] {
  if (b.length === 0) return a as RedactionType[];
  return [...new Set([...a, ...b])];
}

/**
 * A model's answer of several parts (Responses output_text parts, Anthropic text blocks; `cuts`
 * where they meet), read as the input side reads a message's parts, with one difference: a
 * finding of the parts read apart counts only where it overlaps no finding of the join. The
 * join is the answer as the model wrote it, as a stream's deltas run on and as the app reads it
 * joined; the apart reading is there for data the join hid ('jane@example.com' + '42'). Where a
 * cut falls inside data the join found, the pieces apart can make another finding with a
 * neighbour ('+44 20 7946 0958 4' + '111 ...', the start of a card read as a phone's last
 * digit), which the input side's merge turned two findings into one; here the join's stand, so
 * an answer without such hidden data is redacted exactly as redact() of the join. Linear: two
 * scans and one pass over the findings. Returns the types and, with `rewrite`, the new text.
 */
export function readAnswerParts(
  text: string,
  cuts: readonly number[],
  options: RedactOptions,
  rewrite: boolean,
): RedactResult {
  const m = { role: 'assistant', content: text, cuts };
  const usable = cutsOf(m);
  if (usable === undefined)
    return rewrite ? redact(text, options) : { text, types: detectSensitive(text, options) };
  const joined = findSensitive(text, options);
  const hidden: SensitiveSpan[] = [];
  let j = 0;
  for (const f of toMessageOffsets(findSensitive(apart(text, usable, '\n'), options), usable)) {
    while (j < joined.length && (joined[j] as SensitiveSpan).end <= f.start) j++;
    const next = joined[j];
    if (next === undefined || next.start >= f.end) hidden.push(f);
  }
  if (!rewrite) {
    const types = new Set<RedactionType>();
    for (const f of joined) types.add(f.type);
    for (const f of hidden) types.add(f.type);
    return { text, types: [...types] };
  }
  if (hidden.length === 0) return redact(text, options);
  return replaceMerged(text, joined, hidden, options);
}

/** Findings of the text read apart, mapped back to the text's offsets (less the separators before each). */
function toMessageOffsets(split: readonly SensitiveSpan[], cuts: readonly number[]): SensitiveSpan[] {
  // The k-th cut's separator sits at cuts[k] + k. Findings come sorted: one pointer.
  let k = 0;
  const spans: SensitiveSpan[] = [];
  for (const f of split) {
    while (k < cuts.length && (cuts[k] as number) + k < f.start) k++;
    const start = f.start - k;
    let e = k;
    while (e < cuts.length && (cuts[e] as number) + e < f.end) e++;
    spans.push({ start, end: f.end - e, type: f.type });
  }
  return spans;
}

/** The types in the message, read joined and, when it has cuts, apart. */
export function detectMessage(m: GuardMessage, options: RedactOptions): RedactionType[] {
  const joined = detectSensitive(m.content, options);
  const cuts = cutsOf(m);
  return cuts === undefined ? joined : union(joined, detectSensitive(apart(m.content, cuts, '\n'), options));
}

/**
 * The message redacted as both readings find: the findings of the join and of the parts read
 * apart (mapped back to the message's offsets) are merged where they overlap (data cut across
 * two parts, 'user@host.ex' + 'ample.com', is found whole in the join and as 'user@host.ex'
 * apart: replaced whole, no 'ample.com' left) and each merged span replaced by its
 * placeholder; then redact() on the result, as its own passes do (a neighbour a placeholder
 * uncovered). Linear: two scans, one pass over the findings.
 */
export function redactMessage(m: GuardMessage, options: RedactOptions): RedactResult {
  const cuts = cutsOf(m);
  if (cuts === undefined) return redact(m.content, options);
  const text = m.content;
  const joined = findSensitive(text, options);
  const split = findSensitive(apart(text, cuts, '\n'), options);
  if (split.length === 0) return redact(text, options);
  return replaceMerged(text, joined, toMessageOffsets(split, cuts), options);
}

/**
 * `text` with the two sorted finding lists merged (overlapping spans joined, the first's type)
 * and each merged span replaced by its placeholder; then redact() on the result, as its own
 * passes do (a neighbour a placeholder uncovered).
 */
function replaceMerged(
  text: string,
  joined: readonly SensitiveSpan[],
  spans: readonly SensitiveSpan[],
  options: RedactOptions,
): RedactResult {
  // Both lists sorted by start: merged in order, overlapping spans joined (the first's type).
  const merged: SensitiveSpan[] = [];
  let i = 0;
  let j = 0;
  while (i < joined.length || j < spans.length) {
    const next =
      j >= spans.length ||
      (i < joined.length && (joined[i] as SensitiveSpan).start <= (spans[j] as SensitiveSpan).start)
        ? (joined[i++] as SensitiveSpan)
        : (spans[j++] as SensitiveSpan);
    const last = merged[merged.length - 1];
    if (last !== undefined && next.start < last.end) last.end = Math.max(last.end, next.end);
    else merged.push({ ...next });
  }
  let out = '';
  let at = 0;
  const types = new Set<RedactionType>();
  for (const f of merged) {
    out += text.slice(at, f.start) + redactionPlaceholder(f.type);
    at = f.end;
    types.add(f.type);
  }
  const again = redact(out + text.slice(at), options);
  return { text: again.text, types: union([...types], again.types) };
}
