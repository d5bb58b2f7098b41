import { describe, expect, it } from 'vitest';
import { costMicroUsd, costUsd, DEFAULT_PRICES, type PriceTable } from '@llmsec/core';
import { LlmRuntime } from '../src/instrumentation/runtime.ts';

/**
 * LlmRuntime remembers each model's price-table key (frozen tables only): the costs must be
 * exactly core's, for every id, however often it is asked, past the cache's bound too.
 */

const IDS = [
  'gpt-4o-mini',
  'gpt-4o-mini-2024-07-18',
  'gpt-4o-2024-08-06',
  'GPT-4o-Mini-2024-07-18',
  'openai/gpt-4o-mini',
  ' gpt-4o ',
  'claude-3-5-sonnet-20241022',
  'claude-3-haiku-20240307',
  'gpt-4o-minimal',
  'unknown-model',
  '',
  'x'.repeat(500),
  `gpt-4o-${'9'.repeat(300)}`,
];

function expectCore(runtime: LlmRuntime, table: PriceTable, id: string, inTok: number, outTok: number): void {
  expect({ id, usd: runtime.cost(id, inTok, outTok) }).toEqual({
    id,
    usd: costUsd(id, inTok, outTok, table),
  });
  expect({ id, micro: runtime.costMicro(id, inTok, outTok) }).toEqual({
    id,
    micro: costMicroUsd(id, inTok, outTok, table),
  });
}

describe('LlmRuntime prices', () => {
  it('the default (frozen) table: the same costs as core, first and later calls', () => {
    const runtime = new LlmRuntime();
    for (let round = 0; round < 3; round++) {
      for (const id of IDS) expectCore(runtime, DEFAULT_PRICES, id, 1234 + round, 567);
    }
  });

  it('a frozen custom table, with upper case, prefix and dated keys', () => {
    const table: PriceTable = Object.freeze({
      'Acme-Large': { inputPerMTokUsd: 3, outputPerMTokUsd: 9 },
      'acme-large-2025': { inputPerMTokUsd: 2, outputPerMTokUsd: 6 },
      acme: { inputPerMTokUsd: 0.1, outputPerMTokUsd: 0.2 },
    });
    const runtime = new LlmRuntime({ prices: table });
    const ids = [
      'acme',
      'ACME-large',
      'acme-large-2025-01-01',
      'acme-large-2024',
      'acme-small',
      'vendor/Acme-Large-v2',
      'acm',
      ...IDS,
    ];
    for (let round = 0; round < 2; round++) for (const id of ids) expectCore(runtime, table, id, 1000, 1000);
  });

  it("past the bound of remembered models, the costs are still core's", () => {
    const runtime = new LlmRuntime();
    for (let k = 0; k < 600; k++) {
      const id = k % 3 === 0 ? `gpt-4o-mini-2024-${k}` : k % 3 === 1 ? `claude-3-haiku-${k}` : `other-${k}`;
      expectCore(runtime, DEFAULT_PRICES, id, k, 2 * k);
    }
    for (const id of IDS) expectCore(runtime, DEFAULT_PRICES, id, 10, 20);
  });

  it('a table the application can still change is read on every call', () => {
    const table: Record<string, { inputPerMTokUsd: number; outputPerMTokUsd: number }> = {
      acme: { inputPerMTokUsd: 1, outputPerMTokUsd: 1 },
    };
    const runtime = new LlmRuntime({ prices: table });
    expect(runtime.cost('acme-large-2025', 1e6, 0)).toBe(1);
    table['acme-large'] = { inputPerMTokUsd: 5, outputPerMTokUsd: 5 };
    expect(runtime.cost('acme-large-2025', 1e6, 0)).toBe(5);
    delete table.acme;
    expect(runtime.cost('acme-2025', 1e6, 0)).toBeUndefined();
  });
});
