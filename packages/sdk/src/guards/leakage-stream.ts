import { foldWord, mayBeVocabulary, words, type Grams } from './leakage-grams.ts';
import {
  NON_ASCII_WORD_CHAR,
  WORD_IN_DELTA,
  isAscii,
  isAsciiWordChar,
  isHighSurrogate,
} from './leakage-chars.ts';
import { LeakageRun, type LeakVerdict } from './leakage-run.ts';

export type { LeakVerdict } from './leakage-run.ts';

/**
 * The system-prompt leakage check of one stream, incremental: each delta is tokenised once,
 * with the state carried across deltas (the partial word at the end, the last n words, the
 * prompt grams seen so far), so a stream costs time linear in its length, however it is cut.
 *
 * Hold-back: text that may be the start of a leak is not released to the reader yet. Held is
 * everything from the first word of the current run of matching prompt n-grams (a "chain"),
 * or from the first of the last n-1 prompt words that can start a prompt gram (it may become
 * the first gram of a chain; leakage-run.ts), or the
 * partial word at the end, and the last canary.length-1 characters, and a high surrogate
 * ending a delta (carried into the next, so a cut inside a surrogate pair reads as a cut
 * before it: same words, same hold, same verdict). A chain that breaks before the response
 * reaches the leak threshold is released if the prompt words released so far stay within
 * `budgetWords` (maxLeakShare of the prompt); otherwise everything from that chain on stays
 * held until the stream ends (then the whole response is judged: allowed text is released, a
 * leak is blocked) or the threshold is reached (blocked). So a leaked prompt that gets cut
 * reaches the reader only up to the budget.
 *
 * This file reads the deltas (surrogate carry, canary window, words cut across deltas) and
 * gives the final verdict; the prompt words' run, chains and budget are its base class
 * (leakage-run.ts), the character tests are in leakage-chars.ts.
 */

/** The end-of-stream verdict: a leak, `clean`, or `unknown` (the whole-text check must run). */
export type FinalVerdict = LeakVerdict | 'clean' | 'unknown';

export class LeakageStream extends LeakageRun {
  private readonly canary: string | undefined;
  private readonly maxWordChars: number;
  private offset = 0;
  // The word being read (it may continue in the next delta).
  private pending = '';
  private pendingStart = -1;
  private pendingTooLong = false;
  private canaryTail = '';
  /**
   * A high surrogate that ended the last delta, not read yet: the first half of a letter
   * outside the BMP, whose other half starts the next delta. Read alone, the word it belongs
   * to would be split in two and match nothing (the text released early); carried, the stream
   * reads the same deltas as if the cut were before the pair. At most one UTF-16 unit.
   */
  private carry = '';
  /** Every delta so far was ASCII: then so is the text, and the final verdict needs no scan for other letters. */
  private ascii = true;
  /** The whole text as the stream observer last passed it (kept by the observer anyway). */
  private text: string | undefined;
  /** A verdict was returned, or the final one was taken: the state no longer describes the text. */
  private done = false;

  /** False only in tests: every delta through the Unicode regex (the reference for the ASCII loop). */
  private readonly asciiFastPath: boolean;

  constructor(
    prompt: Grams | undefined,
    canary: string | undefined,
    threshold: number,
    maxLeakShare: number,
    asciiFastPath = true,
  ) {
    super(prompt, threshold, maxLeakShare);
    this.asciiFastPath = asciiFastPath;
    this.canary = canary;
    // Lower-casing can lengthen a word (İ -> i̇): allow for it before comparing with the vocabulary.
    this.maxWordChars = (this.prompt?.longestWord ?? 0) * 2 + 4;
  }

  /** Reads the next delta: a leak found in the text so far, or undefined (then see `hold()`). */
  push(delta: string, accumulated?: string): LeakVerdict | undefined {
    this.text = accumulated;
    if (this.carry !== '') {
      delta = this.carry + delta;
      this.carry = '';
    }
    const last = delta.length - 1;
    if (last >= 0 && isHighSurrogate(delta.charCodeAt(last))) {
      this.carry = delta.slice(last);
      delta = delta.slice(0, last);
    }
    return this.read(delta);
  }

  /** Reads a delta that does not end inside a surrogate pair. */
  private read(delta: string): LeakVerdict | undefined {
    const base = this.offset;
    this.offset += delta.length;
    if (this.canary !== undefined) {
      const tail = this.canaryTail + delta;
      if (tail.includes(this.canary)) return this.found({ method: 'canary_token', confidence: 1 });
      this.canaryTail =
        tail.length >= this.canary.length ? tail.slice(tail.length - this.canary.length + 1) : tail;
    }
    if (this.prompt !== undefined) {
      // The tokeniser also clears `ascii` when the delta has a character outside ASCII.
      const leak = this.tokenise(delta, base);
      if (leak !== undefined) return this.found(leak);
    } else if (this.ascii && !isAscii(delta)) {
      this.ascii = false;
    }
    return undefined;
  }

  /**
   * True only when `push(delta)`, called next, cannot find a leak: then the leakage guard does
   * not read the clock for this delta's check (chunk-guards.ts CHUNK_SELF_TIMED; issue 13: a
   * read is ~40 ns, one a delta, and only a block's duration record uses it). Conservative: a
   * canary can end in any delta (always false); else the push must be able to give the words a
   * leak needs (LeakageRun `wordsToLeak`), and it gives at most one word per UTF-16 unit of the
   * word being read (it may close now; one for a word too long to keep), of the carried
   * surrogate half and of the delta: lower-casing can split a word (İ becomes i and a combining
   * dot, not a letter), but each new word begins at a character of its own
   * (guard-leakage-quiet.test.ts checks that for every code point, and holds this to push on
   * random streams). Only lengths, no scan: scanning a delta for its words costs about what the
   * clock read does (~3.5 ns a character; tried, 2026-12-07), and a streamed token is a few
   * characters, under what a leak needs unless the stream is already repeating the prompt.
   */
  cannotLeak(delta: string): boolean {
    if (this.canary !== undefined || this.done) return false;
    if (this.prompt === undefined) return true;
    const pending = this.pendingStart < 0 ? 0 : this.pendingTooLong ? 1 : this.pending.length;
    return pending + this.carry.length + delta.length < this.wordsToLeak();
  }

  /** Characters at the end of the text so far that must not reach the reader yet. */
  hold(): number {
    // The carried half is held too: the reader's text so far ends after it.
    return this.offset + this.carry.length - this.safeUpTo();
  }

  /**
   * The verdict on the whole response from what the stream has read, so that the final check
   * does not tokenise the text a second time. Only when it is exactly what the whole-text check
   * (leakage-grams.ts `overlap`, canary `includes`) would say: `text` is the text this stream
   * read (same string), against the same prompt grams, and has no non-ASCII letter or digit.
   * The whole-text check lower-cases the text before splitting it into words and the stream
   * splits first: for ASCII letters and digits, and for every character that is neither (a
   * test checks all of Unicode), both give the same words; for other letters they can differ
   * (final sigma, a capital I with dot becoming i + combining dot), so those texts get
   * `unknown`. The scan for them is linear and stops at the first one. Taking the verdict ends
   * this state (a later push starts no new judgement).
   */
  finalVerdict(text: string, prompt: Grams | undefined): FinalVerdict {
    if (this.carry !== '' && !this.done && text === this.text && text.length === this.offset + 1) {
      // The text ends with a lone high surrogate: no other half is coming, it is read as it is.
      const carried = this.carry;
      this.carry = '';
      const leak = this.read(carried);
      if (leak !== undefined) return leak;
    }
    if (this.done || this.text === undefined || text.length !== this.offset || text !== this.text)
      return 'unknown';
    if ((prompt !== undefined && prompt.set.size > 0 ? prompt : undefined) !== this.prompt) return 'unknown';
    // Every delta was ASCII (and `text` is their concatenation): no letter outside ASCII to look for.
    if (!this.ascii && NON_ASCII_WORD_CHAR.test(text)) return 'unknown';
    this.done = true;
    // No canary in the stream: every occurrence would lie within one tail + delta window.
    if (this.prompt === undefined || this.pendingStart < 0) return 'clean';
    return this.closeWord() ?? 'clean';
  }

  private found(leak: LeakVerdict): LeakVerdict {
    this.done = true;
    return leak;
  }

  /** The text before this offset may be shown. */
  private safeUpTo(): number {
    let safe = this.offset;
    if (this.prompt !== undefined)
      safe = this.runSafeUpTo(safe, this.pendingStart >= 0 && !this.pendingTooLong ? this.pendingStart : -1);
    if (this.canary !== undefined) safe = Math.min(safe, Math.max(0, this.offset - (this.canary.length - 1)));
    return safe;
  }

  /**
   * Splits a delta into words (maximal runs of letters and digits), carrying a word cut at the
   * delta's end into the next one, and clears `ascii` when the delta has a character outside
   * ASCII. ASCII text is split by a character loop (the usual case: no match object and no
   * regex run per word), which is also the delta's ASCII test: one pass over an ASCII delta,
   * not a test pass and then a split pass (issue 13). At its first character outside ASCII (or
   * at the start of an ASCII word running into one) the Unicode regex reads the rest of the
   * delta from there; the words before that point are ASCII runs ended by an ASCII character
   * that is no letter or digit (a word boundary for the regex too), so the delta's words are
   * the ones the regex gives on the whole delta (a property test checks both against it).
   */
  private tokenise(delta: string, base: number): LeakVerdict | undefined {
    let matched = false;
    const n = delta.length;
    let from = 0;
    if (this.asciiFastPath) {
      while (from < n) {
        const c = delta.charCodeAt(from);
        if (!isAsciiWordChar(c)) {
          if (c > 0x7f) break;
          from++;
          continue;
        }
        let end = from + 1;
        while (end < n && isAsciiWordChar(delta.charCodeAt(end))) end++;
        if (end < n && delta.charCodeAt(end) > 0x7f) break;
        matched = true;
        const leak = this.wordRun(delta, from, end, base, true);
        if (leak !== undefined) return leak;
        from = end;
      }
      if (from < n) this.ascii = false;
    } else if (!isAscii(delta)) {
      this.ascii = false;
    }
    if (from < n) {
      const re = WORD_IN_DELTA;
      re.lastIndex = from;
      for (let m = re.exec(delta); m !== null; m = re.exec(delta)) {
        matched = true;
        const leak = this.wordRun(delta, m.index, m.index + m[0].length, base, false);
        if (leak !== undefined) return leak;
      }
    }
    if (!matched && n > 0 && this.pendingStart >= 0) return this.closeWord();
    return undefined;
  }

  /**
   * One run of word characters, delta[start, end): continues or starts the pending word; closes
   * it unless it reaches the delta's end. `ascii`: the run is ASCII, so a word that starts and
   * ends in this delta can be rejected by its first character and length (mayBeVocabulary)
   * before its string is built and lower-cased: it then ends the run of prompt words, as a
   * looked-up word outside the vocabulary does.
   */
  private wordRun(
    delta: string,
    start: number,
    end: number,
    base: number,
    ascii: boolean,
  ): LeakVerdict | undefined {
    if (start !== 0 || this.pendingStart < 0) {
      if (this.pendingStart >= 0) {
        const leak = this.closeWord();
        if (leak !== undefined) return leak;
      }
      if (ascii && end < delta.length && !mayBeVocabulary(this.prompt as Grams, delta, start, end))
        return this.word(undefined, base + start);
      this.pendingStart = base + start;
      this.pending = '';
      this.pendingTooLong = false;
    }
    this.extend(delta, start, end);
    return end < delta.length ? this.closeWord() : undefined;
  }

  private extend(delta: string, start: number, end: number): void {
    if (this.pendingTooLong) return;
    if (this.pending.length + (end - start) > this.maxWordChars) {
      // Longer than any prompt word: it cannot match, so it is not kept (a 1 MiB "word" stays O(1) memory).
      this.pendingTooLong = true;
      this.pending = '';
      return;
    }
    this.pending += delta.slice(start, end);
  }

  private closeWord(): LeakVerdict | undefined {
    const start = this.pendingStart;
    const pending = this.pending;
    // As words() reads them: lower-cased, final sigma as sigma (leakage-grams.ts foldWord).
    const word = this.pendingTooLong ? undefined : foldWord(pending.toLowerCase());
    this.pendingStart = -1;
    this.pending = '';
    this.pendingTooLong = false;
    // Lower-casing lengthens one letter only: İ (U+0130) becomes i and a combining dot, not a
    // letter. The prompt's words are split after lower-casing ('İade': 'i', 'ade'), so read
    // this word's pieces as those words, each from the word's start (held no later than it
    // begins). Read whole, no gram with such a word matched: a streamed leak of a Turkish
    // prompt was released and only the end check blocked it (guard-leakage-dotted-i.test.ts).
    if (word !== undefined && word.length !== pending.length) return this.pieces(word, start);
    return this.word(word, start);
  }

  private pieces(lowered: string, start: number): LeakVerdict | undefined {
    for (const piece of words(lowered)) {
      const leak = this.word(piece, start);
      if (leak !== undefined) return leak;
    }
    return undefined;
  }
}
