import { isAscii, isAsciiWordChar } from './leakage-chars.ts';

/**
 * Word n-grams of a system prompt, and the share of them a text repeats. Words are runs of
 * letters and digits, lower-cased, Greek final sigma read as sigma (foldWord); punctuation and
 * spacing are ignored. Everything here is one pass over its input (linear time).
 */

export const WORD = /[\p{L}\p{N}]+/gu;

export function words(text: string): string[] {
  return foldWord(text.toLowerCase()).match(WORD) ?? [];
}

/**
 * Lower-cased text with Greek final sigma (ς, U+03C2) read as sigma (σ, U+03C3): one letter,
 * written two ways by its place in the word. A prompt typed with σ at word ends (or a text
 * whose Σ lower-cases by its context: 'ΟΔΟΣ' alone is 'οδος', in "ΟΔΟΣ'Α" it is 'οδοσ')
 * otherwise shares no word with the same words written the other way. Same length (both one
 * UTF-16 unit), so offsets and word lengths hold.
 */
export function foldWord(lowered: string): string {
  return lowered.includes('ς') ? lowered.replaceAll('ς', 'σ') : lowered;
}

export interface Grams {
  set: Set<string>;
  /** Words per gram: n, or fewer for a prompt shorter than n words. */
  size: number;
  /** Every word of the prompt: a window with a word outside it cannot match, so it is skipped. */
  vocabulary: Set<string>;
  /**
   * The words a gram starts with (the prompt's words at positions 0 .. wordCount - size): only
   * these can begin a matching gram, so a stream holds back a run of prompt words only from the
   * first of these in it (leakage-run.ts).
   */
  heads: Set<string>;
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
}

/** Word n-grams; a text shorter than n words is one gram (all its words). */
export function grams(text: string, n: number): Grams {
  const w = words(text);
  const set = new Set<string>();
  const size = Math.min(n, w.length);
  const heads = new Set<string>();
  for (let i = 0; size > 0 && i + size <= w.length; i++) {
    set.add(w.slice(i, i + size).join(' '));
    heads.add(w[i] as string);
  }
  let longestWord = 0;
  const asciiHeads = new Uint32Array(128);
  for (const x of w) {
    if (x.length > longestWord) longestWord = x.length;
    const c = x.charCodeAt(0);
    if (c < 128) asciiHeads[c] = (asciiHeads[c] as number) | (1 << lengthBit(x.length));
  }
  return { set, size, vocabulary: new Set(w), heads, wordCount: w.length, longestWord, asciiHeads };
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
 * are the same; a word that fails `mayBeVocabulary` cannot be a prompt word and ends the run
 * without being built. Grams are built only from `size` consecutive prompt words.
 */
function overlapAscii(prompt: Grams, text: string): number {
  const size = prompt.size;
  let recent: string[] | undefined; // the run's last `size` words, by run position modulo size
  let seen: Set<string> | undefined;
  let run = 0;
  const n = text.length;
  for (let i = 0; i < n; ) {
    if (!isAsciiWordChar(text.charCodeAt(i))) {
      i++;
      continue;
    }
    let end = i + 1;
    while (end < n && isAsciiWordChar(text.charCodeAt(end))) end++;
    const word = mayBeVocabulary(prompt, text, i, end) ? text.slice(i, end).toLowerCase() : undefined;
    i = end;
    if (word === undefined || !prompt.vocabulary.has(word)) {
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
