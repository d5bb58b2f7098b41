import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grams, mayBeVocabulary } from '../src/guards/leakage-grams.ts';
import { LeakageStream } from '../src/guards/leakage-stream.ts';
import { StreamText } from '../src/instrumentation/stream-text.ts';

/**
 * The leakage stream rejects an ASCII word by its first character and length before building
 * and lower-casing it (leakage-grams.ts `mayBeVocabulary`, issue 13). These check that the
 * filter never rejects a word the vocabulary has, and that streams with it decide exactly as
 * the reference path without it (every delta through the regex, every word looked up).
 */

const asciiWordChar = fc.constantFrom(
  ...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'.split(''),
);
const asciiWord = fc.array(asciiWordChar, { minLength: 1, maxLength: 40 }).map((c) => c.join(''));
/**
 * Words around and past 31 characters, which share the table's last length bit (fast-check's
 * default size keeps `asciiWord` under 13 characters, so it never reaches that bit).
 */
const longAsciiWord = fc
  .array(asciiWordChar, { minLength: 28, maxLength: 80, size: 'max' })
  .map((c) => c.join(''));
/** Prompt words: ASCII (some long), other letters, and characters whose lower case is ASCII (K, the Kelvin sign). */
const promptWord = fc.oneof(
  { weight: 6, arbitrary: asciiWord },
  { weight: 1, arbitrary: longAsciiWord },
  {
    weight: 1,
    arbitrary: fc.constantFrom('\u212a', '\u212aey', '\u0130stanbul', 'stra\u00dfe', '\u03a3\u03a3'),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }) },
);
const prompt = fc.array(promptWord, { minLength: 1, maxLength: 30 }).map((w) => w.join(' '));

describe('leakage stream: the vocabulary filter of ASCII words', () => {
  it('passes every ASCII word whose lower case is a vocabulary word', () => {
    fc.assert(
      fc.property(prompt, fc.array(asciiWord, { maxLength: 20 }), (p, others) => {
        const g = grams(p, 8);
        // The prompt's own words in other casings, and random words.
        const candidates = [...(p.match(/[A-Za-z0-9]+/g) ?? []), ...others];
        for (const w of [...candidates, ...candidates.map((x) => x.toUpperCase())]) {
          const text = ` ${w} `;
          if (g.vocabulary.has(w.toLowerCase())) expect(mayBeVocabulary(g, text, 1, 1 + w.length)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects most words outside the vocabulary (it is a filter, not always true)', () => {
    const g = grams('You are a helpful assistant for the Acme billing portal. Answer briefly.', 8);
    const answer = 'Echo: How do I download last month invoice as a PDF from the portal?';
    const words = answer.match(/[A-Za-z0-9]+/g) as string[];
    const passed = words.filter((w) => mayBeVocabulary(g, w, 0, w.length));
    expect(passed).toEqual(['a', 'the', 'portal']);
    // The Kelvin sign lower-cases to an ASCII k: its word is found by ASCII words too.
    expect(mayBeVocabulary(grams('\u212aey', 8), 'KEY', 0, 3)).toBe(true);
  });

  it('streams with the filter give the same verdicts, holds and end verdict as without it, however cut', () => {
    const token = (words: string[]): fc.Arbitrary<string> =>
      fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom(...words) },
        { weight: 2, arbitrary: fc.constantFrom(...words).map((w) => w.toUpperCase()) },
        { weight: 2, arbitrary: asciiWord },
        { weight: 4, arbitrary: fc.constantFrom(' ', ', ', '. ', '\n', '-') },
      );
    fc.assert(
      fc.property(
        prompt.chain((p) => {
          const words = p.match(/[A-Za-z0-9]+/g) ?? ['x'];
          return fc.tuple(
            fc.constant(p),
            fc.array(token(words), { maxLength: 80 }).map((t) => t.join('')),
            fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 8 }),
            fc.integer({ min: 1, max: 8 }),
          );
        }),
        ([p, t, sizes, n]) => {
          const g = grams(p, n);
          const fast = new LeakageStream(g, undefined, 0.5, 0.1);
          const reference = new LeakageStream(g, undefined, 0.5, 0.1, false);
          const acc = new StreamText();
          for (let i = 0, k = 0; i < t.length; k++) {
            const d = t.slice(i, i + (sizes[k % sizes.length] as number));
            i += d.length;
            const whole = acc.append(d);
            const a = fast.push(d, whole);
            expect(a).toEqual(reference.push(d, whole));
            if (a !== undefined) return;
            expect(fast.hold()).toBe(reference.hold());
          }
          expect(fast.finalVerdict(t, g)).toEqual(reference.finalVerdict(t, g));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
