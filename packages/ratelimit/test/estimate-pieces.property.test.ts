/**
 * A text is tokenized in pieces of at most TOKENIZE_PIECE_CHARS (the BPE is quadratic in one
 * pre-token), cut before a space that sits between two non-spaces. Every encoding's split
 * pattern starts a pre-token at such a space (no pre-token ends in a space unless it is all
 * whitespace, and the character before is not one), and BPE merges only inside a pre-token, so
 * on text that has such a space in each piece's second half the count is the whole text's.
 * Checked here on random text, not only on one repeated sentence at a few offsets.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadEncoding } from '../src/estimate/tokenizer.ts';
import type { EncodingName } from '../src/estimate/tokenizer.ts';
import { estimateTokens, TOKENIZE_MAX_CHARS, TOKENIZE_PIECE_CHARS } from '../src/estimate/tokens.ts';

const SPECIAL_AS_TEXT = { disallowedSpecial: new Set<string>() };

/** Characters of every class the split patterns tell apart (one or two UTF-16 units each). */
const CHARS = [
  ...'abcxyzABCXYZ',
  ...'0123456789',
  ...'.,;:!?\'"()[]{}-_/\\@#$%&*+=<>|~`^',
  ..."'s'll're",
  'é',
  'ß',
  'Ж',
  'я',
  'λ',
  '日',
  '本',
  '語',
  'の',
  'ー',
  '한',
  '😀',
  '👍🏽',
  '\u00a0',
];
const word = fc
  .array(fc.constantFrom(...CHARS), { minLength: 1, maxLength: 24 })
  .map((chars) => chars.join(''));
/** What may stand between words: mostly one space (a cut point), sometimes none of them. */
const separator = fc.constantFrom(' ', ' ', ' ', ' ', '\n', '  ', ' \n', '\t', '\r\n', ', ', '');
const prose = fc
  .array(fc.tuple(word, separator), { minLength: 1, maxLength: 600, size: 'max' })
  .map((parts) => parts.map(([w, s]) => w + s).join(''));

const MODELS: Record<EncodingName, string> = {
  o200k_base: 'gpt-4o',
  cl100k_base: 'gpt-4',
  p50k_base: 'text-davinci-003',
  r50k_base: 'davinci',
};

/** Whether every piece the estimate cuts ends before a space between two non-spaces. */
function cutsAtSpaces(text: string): boolean {
  // A window of half a piece with no such space anywhere forces a cut at the length.
  const half = TOKENIZE_PIECE_CHARS / 2;
  let last = -1;
  for (let i = 1; i < text.length - 1; i++) {
    if (text[i] === ' ' && !/\s/.test(text[i - 1]!) && !/\s/.test(text[i + 1]!)) {
      if (i - last > half) return false;
      last = i;
    }
  }
  return text.length - last <= half || text.length <= TOKENIZE_PIECE_CHARS;
}

describe('tokenizing in pieces', () => {
  for (const [name, model] of Object.entries(MODELS) as [EncodingName, string][]) {
    it(`counts text with a space to cut at as the whole text: ${name}`, () => {
      const encoding = loadEncoding(name)!;
      let cut = 0;
      fc.assert(
        fc.property(prose, (text) => {
          fc.pre(text.length <= TOKENIZE_MAX_CHARS && cutsAtSpaces(text));
          if (text.length > TOKENIZE_PIECE_CHARS) cut++;
          expect(estimateTokens(text, model)).toBe(encoding.countTokens(text, SPECIAL_AS_TEXT));
        }),
        { numRuns: 60 },
      );
      // most runs are texts the estimate cuts (else this checks nothing about the cuts)
      expect(cut).toBeGreaterThan(30);
    });
  }

  it('is within a token or two a piece of the whole on any text (cut inside long words)', () => {
    const encoding = loadEncoding('o200k_base')!;
    const any = fc
      .array(fc.constantFrom(...CHARS, ' ', '\n'), { minLength: 0, maxLength: 3_000, size: 'max' })
      .map((chars) => chars.join(''));
    fc.assert(
      fc.property(any, (text) => {
        const whole = encoding.countTokens(text, SPECIAL_AS_TEXT);
        const pieces = Math.ceil(text.length / (TOKENIZE_PIECE_CHARS / 2));
        expect(Math.abs(estimateTokens(text, 'gpt-4o') - whole)).toBeLessThanOrEqual(2 * pieces);
      }),
      { numRuns: 60 },
    );
  });
});
