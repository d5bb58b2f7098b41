import { describe, expect, it } from 'vitest';
import { seededRandom } from '@llmsec/core';
import { backoffDelay } from '../src/sinks/backoff.ts';

const opts = { initialMs: 100, maxMs: 1_000 };

describe('backoffDelay (exponential, full jitter)', () => {
  it('is random() times a ceiling that doubles per attempt up to maxMs', () => {
    const almostOne = (): number => 0.999_999;
    expect([1, 2, 3, 4, 5, 6, 50].map((n) => backoffDelay(n, opts, almostOne))).toEqual([
      99, 199, 399, 799, 999, 999, 999,
    ]);
    expect(backoffDelay(1, opts, () => 0.5)).toBe(50);
    expect(backoffDelay(3, opts, () => 0.25)).toBe(100);
  });

  it('can be zero (full jitter) and never reaches the ceiling', () => {
    expect(backoffDelay(4, opts, () => 0)).toBe(0);
    const random = seededRandom(42);
    for (let attempt = 1; attempt < 40; attempt++) {
      const ceiling = Math.min(opts.maxMs, opts.initialMs * 2 ** (attempt - 1));
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(attempt, opts, random);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(ceiling);
      }
    }
  });

  it('survives absurd attempt counts without overflow', () => {
    expect(backoffDelay(10_000, opts, () => 0.5)).toBe(500);
    expect(backoffDelay(0, opts, () => 0.5)).toBe(50);
  });
});
