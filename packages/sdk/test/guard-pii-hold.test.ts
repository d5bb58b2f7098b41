import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findSensitive } from '@llmsec/core';
import { piiGuard } from '../src/guards/index.ts';
import { findingStartHold } from '../src/guards/pii-hold.ts';
import { chatInput, recordingContext } from './guard-context.ts';

/**
 * piiGuard block mode's hold-back on a stream (pii-hold.ts): after a check that found nothing,
 * the end of the text that may be the start of a finding still being streamed stays held.
 * The property drives the chunk check as the stream observer does (the text released is the
 * text so far minus the hold) over random texts cut at random places, and asks that nothing
 * at or after the first finding of the whole text was ever released.
 */

describe('findingStartHold', () => {
  const held = (text: string, cap = 256): string => text.slice(text.length - findingStartHold(text, cap));

  it('holds the last run a finding may be made of, and groups of a number back across single spaces', () => {
    expect(held('write to jane.doe@example')).toBe('jane.doe@example');
    expect(held('write to ')).toBe('');
    expect(held('card 4111 1111 1111')).toBe('4111 1111 1111');
    expect(held('card 4111 1111 ')).toBe('4111 1111 ');
    expect(held('call +44 (0)20 7946')).toBe('+44 (0)20 7946');
    expect(held('IBAN DE89 3704 00')).toBe('IBAN DE89 3704 00');
    expect(held('the key sk-proj-4fQ9')).toBe('sk-proj-4fQ9');
    // A word and a number are not one finding; two spaces end a number.
    expect(held('at 4111 1111 jane')).toBe('jane');
    expect(held('4111  1111')).toBe('1111');
    // Punctuation that no finding holds ends the run.
    expect(held('mail "jane@exa')).toBe('jane@exa');
    expect(held('done, ')).toBe('');
    expect(held('日本語のテキスト')).toBe('');
  });

  it('holds at most the cap, reading only that much', () => {
    expect(findingStartHold('x'.repeat(10_000), 256)).toBe(256);
    expect(findingStartHold('1 '.repeat(10_000), 256)).toBe(256);
    expect(findingStartHold('ab', 256)).toBe(2);
  });
});

/**
 * Where the first finding of `text` starts, or -1: of one scan, as block mode's checks read
 * (redact's later passes find neighbours its replacements made, '+44 20 7946' before a
 * replaced address, which the text itself does not hold).
 */
function firstFinding(text: string): number {
  return findSensitive(text)[0]?.start ?? -1;
}

const piece = fc.constantFrom(
  'hello there ',
  'jane.doe@example.com',
  'a.b-c@mail.example.org ',
  '+44 20 7946 0958',
  ' (415) 555-0100 ',
  '4111 1111 1111 1111',
  'DE89 3704 0044 0532 0130 00 ',
  '123-45-6789',
  'sk-proj-4fQ9xT2mLw8RzK3vNb7YcH1pJd6Ge5Su ',
  'ghp_0123456789abcdefghijABCDEFGHIJ ',
  ' ',
  ', ',
  'IBAN ',
  'the end. ',
);

describe('piiGuard block mode on a stream: nothing from the first finding on is released', () => {
  it('random texts, random cuts (2,000 runs)', () => {
    fc.assert(
      fc.property(
        fc.array(piece, { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 40 }),
        (parts, sizes) => {
          const full = parts.join('');
          const first = firstFinding(full);
          const guard = piiGuard({ mode: 'block', directions: ['output'] });
          const { ctx } = recordingContext(chatInput());
          let offset = 0;
          let released = 0;
          let acc = '';
          for (let k = 0; offset < full.length; k++) {
            const delta = full.slice(offset, offset + (sizes[k % sizes.length] as number));
            offset += delta.length;
            acc += delta;
            const d = guard.checkChunk!(acc, delta, ctx);
            if (d.action === 'block') break;
            const hold = d.action === 'allow' ? (d.holdChars ?? 0) : 0;
            released = Math.max(released, offset - hold);
          }
          if (first >= 0) expect(released).toBeLessThanOrEqual(first);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
