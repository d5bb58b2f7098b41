/**
 * Texts an unguarded stream past the telemetry's cap read and did not keep whole (kept-text.ts),
 * remembered by their length and two 32-bit hashes, not by the text: so a repeat of one (a
 * Responses annotation's title or URL, sent in `annotation.added`, then again in its part's and
 * its item's done events) is known as read and its characters are not counted again in
 * `droppedChars`. A text kept whole is known by the text itself (the stream holds it anyway);
 * one not kept cannot be, since holding it would hold what the cap leaves out. Before, such a
 * quote counted once per event carrying it (the review's repro: 3x past the cap).
 *
 * Bounded: at most MAX_UNKEPT texts (some 60 bytes each); past it a text is not remembered, and
 * its repeats count again (the estimate over-counts, as before, only past 1,024 such texts).
 * Hashing reads each text once per event that carries it: linear in what the stream sends.
 */
export class UnkeptTexts {
  private readonly seen = new Set<string>();

  /** `text` was read and not kept whole. */
  add(text: string): void {
    if (this.seen.size < MAX_UNKEPT) this.seen.add(fingerprint(text));
  }

  has(text: string): boolean {
    return this.seen.size > 0 && this.seen.has(fingerprint(text));
  }
}

/** Texts remembered per stream. */
const MAX_UNKEPT = 1024;

/** Length and two 32-bit hashes (FNV-1a and a multiply-xorshift): two different texts agree on all three by chance only. */
function fingerprint(s: string): string {
  let a = 0x811c9dc5;
  let b = 0x9e3779b9;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return `${s.length}:${a >>> 0}:${b >>> 0}`;
}
