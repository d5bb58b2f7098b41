import { describe, expect, it } from 'vitest';
import { grams } from '../src/guards/leakage-grams.ts';
import { LeakageStream } from '../src/guards/leakage-stream.ts';

/**
 * What a stream holds back for the prompt words at the end of the text (leakage-run.ts's
 * runSafeUpTo): from the first of the last n-1 prompt words that can start a gram of the prompt
 * (Grams.heads), not from the first of them whatever it is. A later chain of matching grams can
 * only begin at such a word, so nothing of a gram that later matches is released before it
 * matches (the property below); words that cannot begin one are released as they come.
 */

const PROMPT = 'You are a helpful assistant for the Acme billing portal. Answer briefly.';

function pushAll(s: LeakageStream, deltas: string[]): number {
  let text = '';
  for (const d of deltas) {
    text += d;
    expect(s.push(d, text)).toBeUndefined();
  }
  return s.hold();
}

describe('LeakageStream hold of trailing prompt words', () => {
  it('does not hold prompt words that cannot start a gram (the bench answer ends in "the portal?")', () => {
    // 'the' and 'portal' are prompt words 7 and 10 of 12: no 8-gram starts at either.
    const s = new LeakageStream(grams(PROMPT, 8), undefined, 0.5, 0.1);
    expect(pushAll(s, ['Echo: How do I download last month invoice ', 'from the portal?'])).toBe(0);
  });

  it('holds from the first trailing prompt word that can start a gram', () => {
    // 'a' is prompt word 3 (an 8-gram starts there); 'the' after it cannot start one.
    const s = new LeakageStream(grams(PROMPT, 8), undefined, 0.5, 0.1);
    expect(pushAll(s, ['Download it as a ', 'the '])).toBe('a the '.length);
    const t = new LeakageStream(grams(PROMPT, 8), undefined, 0.5, 0.1);
    expect(pushAll(t, ['Download it as the ', 'a '])).toBe('a '.length);
  });

  it('never releases text of a gram before the gram matches, at any cut (random prompts and answers)', () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const vocab = ['alpha', 'beta', 'gamma', 'delta', 'eps', 'zeta', 'eta', 'theta', 'iota', 'kappa'];
    for (let trial = 0; trial < 400; trial++) {
      const n = 2 + rand(4);
      const promptWords = Array.from({ length: n + rand(12) }, () => vocab[rand(vocab.length)] as string);
      const prompt = grams(promptWords.join(' '), n);
      // An answer of prompt passages (some long enough to match a gram) and other words.
      const answer: string[] = [];
      while (answer.length < 40) {
        if (rand(3) === 0) answer.push(rand(2) === 0 ? 'other' : (vocab[rand(vocab.length)] as string));
        else {
          const from = rand(promptWords.length);
          answer.push(...promptWords.slice(from, from + 1 + rand(n + 2)));
        }
      }
      const text = answer.join(rand(2) === 0 ? ' ' : ', ');
      // The matching grams of the whole text: [start offset of the first word, end of the last].
      const spans = [...text.matchAll(/[a-z]+/g)].map((m) => [m.index, m.index + m[0].length] as const);
      const matches: Array<{ start: number; end: number }> = [];
      for (let i = 0; i + prompt.size <= spans.length; i++) {
        const gram = spans
          .slice(i, i + prompt.size)
          .map(([a, b]) => text.slice(a, b))
          .join(' ');
        if (prompt.set.has(gram)) matches.push({ start: spans[i]![0], end: spans[i + prompt.size - 1]![1] });
      }
      // Stream it in random deltas (maxLeakShare 1: chains released when they break, threshold
      // 1: a verdict only once every gram was seen); what the reader may see after each delta must not
      // reach into a gram that has not matched yet (its last word not read, or not known ended).
      const s = new LeakageStream(prompt, undefined, 1, 1);
      let offset = 0;
      while (offset < text.length) {
        const next = Math.min(text.length, offset + 1 + rand(9));
        // A verdict cuts the stream: nothing more is released.
        if (s.push(text.slice(offset, next), text.slice(0, next)) !== undefined) break;
        const safe = next - s.hold();
        for (const m of matches) {
          // Known to match once a character after its last word was read.
          if (m.end >= next)
            expect(
              safe,
              `n ${n} prompt ${promptWords.join(' ')} text ${text} at ${next}`,
            ).toBeLessThanOrEqual(m.start);
        }
        offset = next;
      }
    }
  });
});
