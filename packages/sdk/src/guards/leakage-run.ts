import type { Grams } from './leakage-grams.ts';

/**
 * The prompt-word side of a stream's system-prompt leakage check: fed the stream's words one at
 * a time (leakage-stream.ts reads them from the deltas), it keeps the last n words while they
 * are prompt words, the current chain of matching prompt n-grams, the grams seen so far (the
 * leak share) and the release budget, and says where the text it must hold back starts.
 *
 * The budget (the hold-back rules as a whole are in leakage-stream.ts's header): a chain that
 * breaks below the threshold is released while the prompt words released so far stay within
 * `budgetWords`; past it, everything from that chain on stays held (`stickyFrom`).
 *
 * A base class of LeakageStream rather than an object it holds: a stream's state is made per
 * call (issue 13), and this way it stays one object, with no extra allocation or indirection on
 * the per-word path.
 */

export interface LeakVerdict {
  method: 'canary_token' | 'ngram_overlap';
  confidence: number;
}

export class LeakageRun {
  protected readonly prompt: Grams | undefined;
  private readonly threshold: number;
  private readonly budgetWords: number;
  // The last `size` prompt words of the current run, and where each started: made at the first
  // prompt word (most streams repeat few or none; issue 13: a stream's state is made per call).
  private ringWords: string[] | undefined;
  /**
   * Where each ring word started, and whether it can start a gram (Grams.heads: the hold-back
   * starts at the first that can): `start` for a word that can, `-1 - start` for one that
   * cannot. One array, not a second one of flags: a stream's ring is made per call (issue 13).
   */
  private ringStarts: number[] | undefined;
  private run = 0;
  /** The prompt grams seen so far: made at the first one. */
  private seen: Set<string> | undefined;
  private chainActive = false;
  private chainStart = 0;
  private chainWords = 0;
  private released = 0;
  private stickyFrom = -1;
  /** missingGrams(), kept: it changes only when a gram is first seen (rare), read every delta. */
  private gramsToLeak = 1;

  constructor(prompt: Grams | undefined, threshold: number, maxLeakShare: number) {
    this.prompt = prompt !== undefined && prompt.set.size > 0 ? prompt : undefined;
    this.threshold = threshold;
    this.budgetWords = Math.floor(maxLeakShare * (this.prompt?.wordCount ?? 0));
    if (this.prompt !== undefined) this.gramsToLeak = this.missingGrams();
  }

  /**
   * With a prompt: the text before the returned offset may be shown as far as the prompt words
   * go. `end`: the end of the text read; `pendingFrom`: where the word being read started (-1:
   * none, or too long to match). Held: from a sticky chain; else from the current chain, or from
   * the first of the last n-1 prompt words that can start a gram (Grams.heads: a later chain can
   * only begin at such a word, since its first gram completes within the next n-1 words), or
   * the pending word. Before, the last n-1 prompt words were held whatever they were: an answer
   * ending in 'the portal' held both to the end of the stream though neither starts a gram of
   * its prompt (issue 13: each held item costs the stream observer a promise adoption).
   */
  protected runSafeUpTo(end: number, pendingFrom: number): number {
    if (this.stickyFrom >= 0) return this.stickyFrom;
    const prompt = this.prompt as Grams;
    let safe = end;
    if (this.chainActive) {
      safe = this.chainStart;
    } else if (this.run > 0 && prompt.size > 1) {
      const size = prompt.size;
      const starts = this.ringStarts as number[];
      for (let k = this.run - Math.min(this.run, size - 1); k < this.run; k++) {
        const start = starts[k % size] as number;
        if (start >= 0) {
          safe = start;
          break;
        }
      }
    }
    if (pendingFrom >= 0 && pendingFrom < safe) safe = pendingFrom;
    return safe;
  }

  /**
   * With a prompt: the fewest words that, read next, could make a leak (leakage-stream.ts
   * `cannotLeak`). A leak is answered only when a word completes a gram not seen before and the
   * share of grams seen reaches the threshold; each word completes at most one gram, and the
   * first `size - 1 - run` of them none (the current run is too short).
   */
  protected wordsToLeak(): number {
    return this.gramsToLeak + Math.max(0, (this.prompt as Grams).size - 1 - this.run);
  }

  /**
   * The fewest new grams (at least 1) that bring the share seen to the threshold, computed with
   * the division `word` makes (monotone, so no rounding makes this larger than the truth).
   */
  private missingGrams(): number {
    const total = (this.prompt as Grams).set.size;
    const seen = this.seen?.size ?? 0;
    let missing = Math.max(1, Math.ceil(this.threshold * total) - seen);
    while (missing > 1 && (seen + missing - 1) / total >= this.threshold) missing--;
    // Bounded (the guard takes thresholds in (0, 1]; more than `total` new grams is never reached).
    while (missing <= total && (seen + missing) / total < this.threshold) missing++;
    return missing;
  }

  /**
   * The next word of the stream, lower-cased, and where it started; `undefined` for a word that
   * cannot be a prompt word. A leak when the grams seen reach the threshold, else undefined.
   */
  protected word(word: string | undefined, start: number): LeakVerdict | undefined {
    const prompt = this.prompt as Grams;
    if (word === undefined || !prompt.vocabulary.has(word)) {
      this.endChain();
      this.run = 0;
      return undefined;
    }
    const size = prompt.size;
    const slot = this.run % size;
    const ringWords = (this.ringWords ??= filled(size, ''));
    const ringStarts = (this.ringStarts ??= filled(size, 0));
    ringWords[slot] = word;
    ringStarts[slot] = prompt.heads.has(word) ? start : -1 - start;
    this.run++;
    if (this.run < size) return undefined;
    let gram = '';
    for (let k = size; k >= 1; k--)
      gram += (k === size ? '' : ' ') + (ringWords[(this.run - k) % size] as string);
    if (!prompt.set.has(gram)) {
      this.endChain();
      return undefined;
    }
    if (this.chainActive) {
      this.chainWords++;
    } else {
      this.chainActive = true;
      const first = ringStarts[(this.run - size) % size] as number;
      this.chainStart = first >= 0 ? first : -1 - first;
      this.chainWords = size;
    }
    const seen = (this.seen ??= new Set<string>());
    if (!seen.has(gram)) {
      seen.add(gram);
      const share = seen.size / prompt.set.size;
      if (share >= this.threshold)
        return { method: 'ngram_overlap', confidence: Math.round(share * 1000) / 1000 };
      this.gramsToLeak = this.missingGrams();
    }
    return undefined;
  }

  private endChain(): void {
    if (!this.chainActive) return;
    this.chainActive = false;
    if (this.stickyFrom >= 0) return;
    if (this.released + this.chainWords > this.budgetWords) this.stickyFrom = this.chainStart;
    else this.released += this.chainWords;
  }
}

/**
 * An array of `n` copies of `value`, made at its length and filled by a loop: `fill` runs in the
 * C++ runtime (0.3 µs of a streamed call in a perf profile, issue 13), and an empty array grown
 * by pushes gets room for 17 (two rings of 8: ~370 bytes a stream, now ~190; 2 x 8 slots made
 * and filled in ~100 ns against 120-250 by pushes).
 */
function filled<T>(n: number, value: T): T[] {
  const a = new Array<T>(n);
  for (let i = 0; i < n; i++) a[i] = value;
  return a;
}
