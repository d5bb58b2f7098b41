/**
 * Character tests of the streaming leakage check (leakage-stream.ts): where a delta may be cut
 * (surrogates), which deltas take the ASCII loop, and which characters make words. Apart from
 * the stream because each must agree exactly with the whole-text tokeniser's regex
 * (leakage-grams.ts `WORD`); the tests hold them to it.
 */

/** Module-level (no allocation per delta); exec() runs synchronously to the end, so sharing it is safe. */
export const WORD_IN_DELTA = /[\p{L}\p{N}]+/gu;

/** U+D800..U+DBFF: the first half of a surrogate pair. */
export function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

/**
 * No character outside ASCII (then the delta is split by the character loop). A loop, not a
 * regex test: on the short deltas of a stream the call into the regex costs more than the scan.
 */
export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** [0-9A-Za-z]: the ASCII letters and digits, exactly the ASCII part of [\p{L}\p{N}]. */
export function isAsciiWordChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39);
}

/** A letter or digit outside ASCII: where splitting before or after lower-casing may differ. */
export const NON_ASCII_WORD_CHAR = /(?![\0-\x7f])[\p{L}\p{N}]/u;
