import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grams, overlap, overlapByWords } from '../src/guards/leakage-grams.ts';

/**
 * The whole-response leakage check reads an ASCII text by a character loop (leakage-grams.ts
 * `overlapAscii`, issue 13) instead of lower-casing it and splitting it with the Unicode regex.
 * These hold it to the regex path (`overlapByWords`, the reference, used for any other text):
 * same share for every prompt, gram size and text.
 */

const asciiWordChar = fc.constantFrom(
  ...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'.split(''),
);
const asciiWord = fc.array(asciiWordChar, { minLength: 1, maxLength: 12 }).map((c) => c.join(''));
const longAsciiWord = fc
  .array(asciiWordChar, { minLength: 28, maxLength: 60, size: 'max' })
  .map((c) => c.join(''));
/** Prompt words: ASCII (some past the length table's last bit), and letters whose lower case is ASCII or not. */
const promptWord = fc.oneof(
  { weight: 6, arbitrary: asciiWord },
  { weight: 1, arbitrary: longAsciiWord },
  { weight: 1, arbitrary: fc.constantFrom('\u212a', '\u212aey', '\u0130stanbul', 'stra\u00dfe', 'caf\u00e9') },
);
const prompt = fc.array(promptWord, { minLength: 1, maxLength: 24 }).map((w) => w.join(' '));

/** An ASCII answer made of the prompt's ASCII words (any case), other words, and separators. */
function answer(p: string): fc.Arbitrary<string> {
  const words = p.match(/[A-Za-z0-9]+/g) ?? ['x'];
  const token = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...words) },
    { weight: 2, arbitrary: fc.constantFrom(...words).map((w) => w.toUpperCase()) },
    { weight: 2, arbitrary: asciiWord },
    { weight: 5, arbitrary: fc.constantFrom(' ', ', ', '. ', '\n', '-', '_', "'", '  ') },
  );
  return fc.array(token, { maxLength: 120 }).map((t) => t.join(''));
}

describe('leakage: the ASCII overlap loop', () => {
  it('gives the regex path’s share on ASCII answers, for every prompt and gram size', () => {
    fc.assert(
      fc.property(
        prompt.chain((p) => fc.tuple(fc.constant(p), answer(p), fc.integer({ min: 1, max: 8 }))),
        ([p, text, n]) => {
          const g = grams(p, n);
          if (g.set.size === 0) return;
          expect(overlap(g, text)).toBe(overlapByWords(g, text));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('finds the prompt repeated in another case and punctuation, and the Kelvin sign’s ASCII k', () => {
    const system = 'You are a helpful assistant for the Acme billing portal. Answer briefly.';
    const g = grams(system, 8);
    expect(overlap(g, system.toUpperCase().replace(/ /g, ' -- '))).toBe(1);
    expect(overlap(g, 'Echo: How do I download last month invoice as a PDF from the portal?')).toBe(0);
    // Half the grams: the first 9 words give grams 1 and 2 of the prompt's 5.
    expect(overlap(g, 'you are a helpful assistant for the acme billing')).toBe(2 / 5);
    // A prompt word spelled with U+212A (Kelvin) lower-cases to ASCII "key": an ASCII answer matches it.
    expect(overlap(grams('the \u212aey is here', 2), 'THE KEY')).toBe(1 / 3);
  });
});
