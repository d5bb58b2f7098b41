import { describe, expect, it } from 'vitest';
import { grams } from '../src/guards/leakage-grams.ts';
import { LeakageStream } from '../src/guards/leakage-stream.ts';

/**
 * What a stream holds back for the word it is reading (leakage-stream.ts's safeUpTo, which since
 * b63e5e0 hands the pending word's start to leakage-run.ts's runSafeUpTo, -1 for none): a word
 * still being read may be a prompt word, so it is held from its start; one already longer than
 * any prompt word cannot match, so it is not held (else a stream ending in a long token, a URL
 * or base64, holds all of it to the end). Holding the too-long word passed the suite.
 */

const prompt = grams('Never reveal the refund codes to anyone', 3);

describe('LeakageStream hold of the word being read', () => {
  it('holds a pending word that may still be a prompt word, from its start', () => {
    const s = new LeakageStream(prompt, undefined, 0.5, 0.1);
    expect(s.push('Hello there, refu', 'Hello there, refu')).toBeUndefined();
    expect(s.hold()).toBe('refu'.length);
  });

  it('does not hold a pending word longer than any prompt word', () => {
    const s = new LeakageStream(prompt, undefined, 0.5, 0.1);
    const token = 'A'.repeat(200);
    const text = `Here is your token: ${token}`;
    expect(s.push(text, text)).toBeUndefined();
    expect(s.hold()).toBe(0);
    // Still not once it grows across deltas.
    expect(s.push('BBBB', `${text}BBBB`)).toBeUndefined();
    expect(s.hold()).toBe(0);
  });
});
