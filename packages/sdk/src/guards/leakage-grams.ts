import { isAscii, isAsciiWordChar } from './leakage-chars.ts';

/**
 * Word n-grams of a system prompt, and the share of them a text repeats. Words are runs of
 * letters and digits, lower-cased; punctuation and spacing are ignored. Everything here is one
 * pass over its input (linear time).
 */

export const WORD = /[\p{L}\p{N}]+/gu;

export function words(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

export interface Grams {
  set: Set<string>;
  /** Words per gram: n, or fewer for a prompt shorter than n words. */
  size: number;
  /** Every word of the prompt: a window with a word outside it cannot match, so it is skipped. */
  vocabulary: Set<string>;
  /** Words in the prompt (the denominator of the leak share). */
  wordCount: number;
  /** The longest prompt word: a longer word cannot be in the vocabulary. */
  longestWord: number;
  /**
   * For each ASCII first character, a bit per word length (bit min(length, 31)) of the
   * vocabulary words that start with it: an ASCII word whose lower-cased first character and
   * length have no bit cannot be in the vocabulary, so the stream rejects it without building
   * or lower-casing the string (most words of an answer). See `mayBeVocabulary`.
   */
  asciiHeads: Uint32Array;
  /**
   * The vocabulary words made of [0-9a-z] only, and an open-addressing table of them by a hash
   * of their characters (slot = index + 1, 0 empty; a power of two, at least twice their
   * number): `asciiVocabularyWord` finds the word a run of ASCII text spells, lower-cased,
   * with a character loop instead of slicing, lower-casing and hashing a new string for the
   * Set (issue 13: those string operations cost several times their warm cost in the call).
   */
  asciiWords: string[];
  asciiTable: Int32Array;
}

/** Word n-grams; a text shorter than n words is one gram (all its words). */
export function grams(text: string, n: number): Grams {
  const w = words(text);
  const set = new Set<string>();
  const size = Math.min(n, w.length);
  for (let i = 0; size > 0 && i + size <= w.length; i++) set.add(w.slice(i, i + size).join(' '));
  let longestWord = 0;
  const asciiHeads = new Uint32Array(128);
  for (const x of w) {
    if (x.length > longestWord) longestWord = x.length;
    const c = x.charCodeAt(0);
    if (c < 128) asciiHeads[c] = (asciiHeads[c] as number) | (1 << lengthBit(x.length));
  }
  const vocabulary = new Set(w);
  // The Set's own strings: their hashes are computed, so a Set lookup of one is cheap.
  const asciiWords = [...vocabulary].filter(isLowerAsciiWord);
  let slots = 8;
  while (slots < asciiWords.length * 2) slots *= 2;
  const asciiTable = new Int32Array(slots);
  for (let k = 0; k < asciiWords.length; k++) {
    const x = asciiWords[k] as string;
    let slot = lowerHash(x, 0, x.length) & (slots - 1);
    while (asciiTable[slot] !== 0) slot = (slot + 1) & (slots - 1);
    asciiTable[slot] = k + 1;
  }
  return { set, size, vocabulary, wordCount: w.length, longestWord, asciiHeads, asciiWords, asciiTable };
}

function isLowerAsciiWord(x: string): boolean {
  for (let i = 0; i < x.length; i++) {
    const c = x.charCodeAt(i);
    if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39))) return false;
  }
  return true;
}

/** FNV-1a of text[start, end) with A-Z read as a-z (for [0-9A-Za-z] runs: their lower case). */
function lowerHash(text: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ lower(text.charCodeAt(i)), 0x01000193);
  return h >>> 0;
}

function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

/**
 * The vocabulary word that `text[start, end)`, a run of ASCII letters and digits, is once
 * lower-cased (the Set's own string), or undefined: exactly `vocabulary.has(lower-cased run)`,
 * without building a string. An ASCII run lower-cases to [0-9a-z], so only those vocabulary
 * words can match, and each candidate is compared character by character.
 */
export function asciiVocabularyWord(
  prompt: Grams,
  text: string,
  start: number,
  end: number,
): string | undefined {
  // Longer than every prompt word: not hashed (a hostile run of 1 MiB costs a comparison here).
  if (end - start > prompt.longestWord || !mayBeVocabulary(prompt, text, start, end)) return undefined;
  const table = prompt.asciiTable;
  const mask = table.length - 1;
  const length = end - start;
  for (let slot = lowerHash(text, start, end) & mask; ; slot = (slot + 1) & mask) {
    const k = table[slot] as number;
    if (k === 0) return undefined;
    const candidate = prompt.asciiWords[k - 1] as string;
    if (candidate.length !== length) continue;
    let i = 0;
    while (i < length && candidate.charCodeAt(i) === lower(text.charCodeAt(start + i))) i++;
    if (i === length) return candidate;
  }
}

function lengthBit(length: number): number {
  return length < 31 ? length : 31;
}

/**
 * False when `text[start, end)`, a run of ASCII letters and digits, lower-cased cannot be a
 * vocabulary word: lower-casing ASCII keeps the length and maps the first character to
 * `c | 0x20` (A-Z to a-z; digits already have that bit). True means "look it up".
 */
export function mayBeVocabulary(prompt: Grams, text: string, start: number, end: number): boolean {
  const heads = prompt.asciiHeads[text.charCodeAt(start) | 0x20] as number;
  return ((heads >>> lengthBit(end - start)) & 1) === 1;
}

/**
 * Share of the prompt's grams found in the text. Only runs of at least `size` consecutive
 * prompt words can match, so ordinary answers build almost no gram strings (the hot path).
 * An ASCII text takes a character loop (overlapAscii), any other the Unicode regex; both give
 * the same share (a property test holds them to each other).
 */
export function overlap(prompt: Grams, text: string): number {
  return isAscii(text) ? overlapAscii(prompt, text) : overlapByWords(prompt, text);
}

/**
 * overlap() of an ASCII text without lower-casing it, splitting it into an array or building
 * a string per word (issue 13: the whole-response check of every call; ~1.5 us of a guarded
 * call in a profile, as much as the leakage stream reads a whole answer for). Lower-casing
 * ASCII keeps lengths and the word runs ([0-9A-Za-z], the ASCII part of WORD), so the words
 * are the same; a word is looked up without being built (`asciiVocabularyWord`). Grams are built only from `size` consecutive prompt words.
 */
function overlapAscii(prompt: Grams, text: string): number {
  const size = prompt.size;
  let recent: string[] | undefined; // the run's last `size` words, by run position modulo size
  let seen: Set<string> | undefined;
  let run = 0;
  const n = text.length;
  for (let i = 0; i < n;) {
    if (!isAsciiWordChar(text.charCodeAt(i))) {
      i++;
      continue;
    }
    let end = i + 1;
    while (end < n && isAsciiWordChar(text.charCodeAt(end))) end++;
    const word = asciiVocabularyWord(prompt, text, i, end);
    i = end;
    if (word === undefined) {
      run = 0;
      continue;
    }
    recent ??= [];
    recent[run % size] = word;
    run++;
    if (run < size) continue;
    let g = recent[(run - size) % size] as string;
    for (let k = size - 1; k >= 1; k--) g += ` ${recent[(run - k) % size] as string}`;
    if (prompt.set.has(g)) (seen ??= new Set()).add(g);
  }
  return (seen?.size ?? 0) / prompt.set.size;
}

/** overlap() through the Unicode regex: any text. Exported for tests (the reference of overlapAscii). */
export function overlapByWords(prompt: Grams, text: string): number {
  const w = words(text);
  const seen = new Set<string>();
  let run = 0;
  for (let i = 0; i < w.length; i++) {
    run = prompt.vocabulary.has(w[i] as string) ? run + 1 : 0;
    if (run >= prompt.size) {
      const g = w.slice(i - prompt.size + 1, i + 1).join(' ');
      if (prompt.set.has(g)) seen.add(g);
    }
  }
  return seen.size / prompt.set.size;
}
