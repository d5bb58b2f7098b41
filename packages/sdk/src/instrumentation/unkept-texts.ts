/**
 * Texts an unguarded stream past the telemetry's cap read and did not keep whole (kept-text.ts),
 * counted by their part and their length and two 32-bit hashes, not by the text: so a repeat of
 * one (a Responses annotation's title or URL, sent in `annotation.added`, then again in its part's
 * and its item's done events) is known as read and its characters are not counted again in
 * `droppedChars`. A text kept whole is known by the text itself (the stream holds it anyway,
 * read-quotes.ts); one not kept cannot be, since holding it would hold what the cap leaves out.
 * Before, such a quote counted once per event carrying it (the review's repro: 3x past the cap).
 * Counted, not only marked: two equal texts in one part are two quotes (read-quotes.ts).
 *
 * Bounded: at most MAX_UNKEPT texts (some 80 bytes each); past it a text is not remembered, and
 * its repeats count again. Per-stream state must stay bounded on a hostile stream, and the error
 * goes the safe way: the lease's output estimate (only read when the provider reports no output
 * tokens, and capped at `max_tokens` when the request sets it) counts high, not low. Hashing
 * reads each text once per event that carries it: linear in what the stream sends.
 */
export class UnkeptTexts {
  private readonly seen = new Map<string, number>();

  /** One more `text` of `part` read and not kept whole. */
  add(part: string, text: string): void {
    const key = fingerprint(part, text);
    const n = this.seen.get(key);
    if (n !== undefined) this.seen.set(key, n + 1);
    else if (this.seen.size < MAX_UNKEPT) this.seen.set(key, 1);
  }

  /** How many times `text` of `part` was read and not kept whole (as far as remembered). */
  count(part: string, text: string): number {
    return this.seen.size === 0 ? 0 : (this.seen.get(fingerprint(part, text)) ?? 0);
  }
}

/** Texts remembered per stream. */
const MAX_UNKEPT = 1024;

/** Part, length and two 32-bit hashes (FNV-1a and a multiply-xorshift): two different texts agree on all by chance only. */
function fingerprint(part: string, s: string): string {
  let a = 0x811c9dc5;
  let b = 0x9e3779b9;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return `${part}|${s.length}:${a >>> 0}:${b >>> 0}`;
}
