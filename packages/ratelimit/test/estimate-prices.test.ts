import { costMicroUsd, costUsd, DEFAULT_PRICES, priceFor } from '@llmsec/core';
import { describe, expect, it } from 'vitest';
import { estimateCostMicroUsd } from '../src/estimate/cost.ts';

describe('priceFor', () => {
  it('matches exact ids and dated ids by the longest prefix at a dash', () => {
    expect(priceFor('gpt-4o')).toEqual({ inputPerMTokUsd: 2.5, outputPerMTokUsd: 10 });
    expect(priceFor('gpt-4o-2024-08-06')).toBe(DEFAULT_PRICES['gpt-4o']);
    expect(priceFor('gpt-4o-mini-2024-07-18')).toBe(DEFAULT_PRICES['gpt-4o-mini']);
    expect(priceFor('gpt-4.1-mini-2025-04-14')).toBe(DEFAULT_PRICES['gpt-4.1-mini']);
    expect(priceFor('o3-pro-2025-06-10')).toBe(DEFAULT_PRICES['o3-pro']);
    expect(priceFor('claude-sonnet-4-20250514')).toBe(DEFAULT_PRICES['claude-sonnet-4']);
    expect(priceFor('claude-opus-4-5-20251101')).toEqual({ inputPerMTokUsd: 5, outputPerMTokUsd: 25 });
    expect(priceFor('claude-3-5-haiku-20241022')).toEqual({ inputPerMTokUsd: 0.8, outputPerMTokUsd: 4 });
  });

  it('does not match inside a word, ignores case and a provider prefix', () => {
    expect(priceFor('gpt-4omega')).toBeUndefined();
    expect(priceFor('GPT-4o-Mini')).toBe(DEFAULT_PRICES['gpt-4o-mini']);
    expect(priceFor('openai/gpt-4.1')).toBe(DEFAULT_PRICES['gpt-4.1']);
  });

  it('unknown models have no price', () => {
    expect(priceFor('llama-3.1-70b')).toBeUndefined();
    expect(priceFor('')).toBeUndefined();
  });

  it('a custom table replaces the defaults', () => {
    const table = { 'my-model': { inputPerMTokUsd: 1, outputPerMTokUsd: 2 } };
    expect(priceFor('my-model-v2', table)).toEqual({ inputPerMTokUsd: 1, outputPerMTokUsd: 2 });
    expect(priceFor('gpt-4o', table)).toBeUndefined();
  });
});

describe('cost', () => {
  it('costUsd: tokens × price per million', () => {
    expect(costUsd('gpt-4o', 1_000_000, 1_000_000)).toBe(12.5);
    expect(costUsd('claude-opus-4-20250514', 2000, 1000)).toBeCloseTo(0.105, 12);
    expect(costUsd('unknown-model', 1, 1)).toBeUndefined();
  });

  it('costMicroUsd: integer, exact (1 USD/MTok = 1 micro-USD per token), rounded up', () => {
    expect(costMicroUsd('gpt-4o', 1000, 500)).toBe(2500 + 5000);
    // 0.1 × 30 is 3.0000000000000004 in floats; the integer path gives exactly 3.
    expect(costMicroUsd('gpt-4.1-nano', 30, 0)).toBe(3);
    // 0.15 × 3 = 0.45 micro-USD → rounded up to 1.
    expect(costMicroUsd('gpt-4o-mini', 3, 0)).toBe(1);
    expect(costMicroUsd('gpt-4o-mini', 0, 0)).toBe(0);
    expect(costMicroUsd('gpt-4o', -5, Number.NaN)).toBe(0);
    expect(Number.isInteger(costMicroUsd('claude-3-5-haiku', 12_345, 6_789))).toBe(true);
    expect(costMicroUsd('claude-3-5-haiku', 12_345, 6_789)).toBe(Math.ceil(12_345 * 0.8 + 6_789 * 4));
  });

  it('estimateCostMicroUsd delegates to the one table, and accepts another', () => {
    expect(estimateCostMicroUsd('o4-mini', 1000, 1000)).toBe(1100 + 4400);
    expect(
      estimateCostMicroUsd('o4-mini', 1000, 1000, { 'o4-mini': { inputPerMTokUsd: 1, outputPerMTokUsd: 1 } }),
    ).toBe(2000);
    expect(estimateCostMicroUsd('nope', 1, 1)).toBeUndefined();
  });

  it('every default price is a non-negative finite number', () => {
    for (const [model, price] of Object.entries(DEFAULT_PRICES)) {
      expect(Number.isFinite(price.inputPerMTokUsd) && price.inputPerMTokUsd >= 0, model).toBe(true);
      expect(Number.isFinite(price.outputPerMTokUsd) && price.outputPerMTokUsd >= 0, model).toBe(true);
    }
  });
});
