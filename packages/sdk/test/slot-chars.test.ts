import { describe, expect, it } from 'vitest';
import { messageText, withMessageText } from '../src/instrumentation/message-text.ts';
import { splitByChars } from '../src/instrumentation/slot-chars.ts';
import { expectLinear } from './fixtures/linear-cpu.ts';

/**
 * slot-chars.ts: a guard's rewrite of text parts read back to back cut into one piece per
 * part, by the text around each cut. Whatever the rewrite, the pieces joined are the rewrite.
 */

const joined = (pieces: Array<string | undefined>) => pieces.map((p) => p ?? '').join('');

describe('splitByChars', () => {
  it('a cut before or after the change stays; one inside it goes to the change’s end; a part left empty is removed', () => {
    expect(splitByChars(['Mail it to jane@exa', 'mple.com please'], 'Mail it to [E] please')).toEqual([
      'Mail it to [E]',
      ' please',
    ]);
    expect(splitByChars(['a@b.co ', 'tail'], '[E] tail')).toEqual(['[E] ', 'tail']);
    expect(splitByChars(['head ', 'a@b.co'], 'head [E]')).toEqual(['head ', '[E]']);
    // A part wholly inside the change is removed; the first part keeps '' when all is emptied.
    expect(splitByChars(['x jane@', 'exa', 'mple.com y'], 'x [E] y')).toEqual(['x [E]', undefined, ' y']);
    expect(splitByChars(['ab', 'cd'], '')).toEqual(['', undefined]);
  });

  it('changes on both sides of an untouched part: the part is found by its text and kept', () => {
    expect(splitByChars(['k1 a@b.co', ' and then ', 'c@d.co k2'], 'k1 [E] and then [E] k2')).toEqual([
      'k1 [E]',
      ' and then ',
      '[E] k2',
    ]);
    // A mask of some characters keeps the cuts next to a character it left; a mask of all
    // leaves no sign of where they were (as a redaction just as long): the first part takes it.
    expect(splitByChars(['card 4111', '1111 ok'], 'card ****1111 ok')).toEqual(['card ****', '1111 ok']);
    expect(splitByChars(['12-34', '-56'], '**-**-**')).toEqual(['**-**', '-**']);
    expect(splitByChars(['1234', '5678', '90'], '**********')).toEqual(['**********', undefined, undefined]);
  });

  it('the pieces joined are the rewrite, whatever the rewrite (a quick sweep of odd cases)', () => {
    const slotsList = [['', ''], ['a', '', 'a'], ['#', '####', 'aaa#aa'], ['x'], ['abc', 'abc', 'abc']];
    const rewrites = ['', 'a', 'XX', 'abcabc', '[R]aaa[R]aa', 'aaaaaaaaaaaaaaaa'];
    for (const slots of slotsList)
      for (const text of rewrites) {
        const pieces = splitByChars(slots, text);
        expect(pieces).toHaveLength(slots.length);
        expect(joined(pieces), JSON.stringify({ slots, text })).toBe(text);
      }
  });
});

describe('linear on hostile runs of text parts', () => {
  // n characters in parts of `size`, numbered so no two parts are alike.
  const message = (n: number, size: number) => ({
    role: 'user',
    content: Array.from({ length: n / size }, (_, i) => ({
      type: 'text',
      text: `${i.toString(36)}.`.padEnd(size, '-'),
    })),
  });

  // 1 MiB in 16-character parts and 256 KiB in 1-character parts (262,144 parts), rewritten so
  // that no cut is found by its text: linear in thread CPU time against a sixteenth of it
  // (fixtures/linear-cpu.ts: at most 96x, linear 16x, quadratic 256x), under 1 s; the pieces
  // are the rewrite. Before, a quarter of it against 8x (linear 4x, quadratic 16x): 6.9-7.0x at
  // load ~30 on 2 cores (a loaded host's caches and collections cost the larger run more). One
  // test per case, each named: the four cases in one test took 57.6 s at load 14 and 144 s at
  // load 25; one case takes 4-15 s at load 25.
  const cases = [
    // Every character changed, the text shorter: every context search runs its window empty.
    ['16: all changed', 16, 1024 * 1024, (t: string) => t.replace(/[^-]/g, '').slice(1)],
    // One change at each end: every cut is between them, found by its context.
    ['16: both ends', 16, 1024 * 1024, (t: string) => `<${t.slice(1, -1)}>`],
    ['1: all changed', 1, 256 * 1024, (t: string) => t.replace(/[^-]/g, '#').slice(1)],
    ['1: both ends', 1, 256 * 1024, (t: string) => `<${t.slice(1, -1)}>`],
  ] as const;
  for (const [label, size, n, rewrite] of cases) {
    it(`${label}: ${n} characters in ${n / size} parts, linear and the pieces are the rewrite`, () => {
      const run = (chars: number) => {
        const m = message(chars, size);
        const text = rewrite(messageText(m));
        const next = withMessageText(m, text);
        return messageText(next) === text;
      };
      expect(run(4096), label).toBe(true);
      expectLinear(label, n, run);
    });
  }
});
