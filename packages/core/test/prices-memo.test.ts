import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  costMicroUsd,
  costUsd,
  DEFAULT_PRICES,
  knownModel,
  priceFor,
  type PriceTable,
} from '../src/prices.ts';

/*
 * knownModel memoises its answers per frozen table (issue 13). Against its matching rules as at
 * c4ccdf8 (copied here, so the reference cannot move with the code): the same answer for any id,
 * asked once or many times, past the memo's caps, and never a stale one for a table that can
 * still change.
 */
function oldKnownModel(model: string, table: PriceTable = DEFAULT_PRICES): string | undefined {
  if (typeof model !== 'string') return undefined;
  const slash = model.lastIndexOf('/');
  const id = (slash >= 0 ? model.slice(slash + 1) : model).trim().toLowerCase();
  if (id === '') return undefined;
  if (Object.hasOwn(table, id) && table[id]) return id;
  let best: string | undefined;
  for (const key of Object.keys(table)) {
    const k = key.toLowerCase();
    if ((id === k || id.startsWith(`${k}-`)) && (best === undefined || k.length > best.length)) best = key;
  }
  return best;
}

const keys = Object.keys(DEFAULT_PRICES);
const id = fc.oneof(
  fc.constantFrom(...keys),
  fc.tuple(fc.constantFrom(...keys), fc.string({ maxLength: 12 })).map(([k, s]) => `${k}-${s}`),
  fc
    .tuple(
      fc.constantFrom('openai/', 'x/y/', ' ', ''),
      fc.constantFrom(...keys),
      fc.constantFrom('', ' ', '-2024-07-18'),
    )
    .map(([a, k, b]) => `${a}${k.toUpperCase()}${b}`),
  fc.string({ maxLength: 20 }),
  fc.string({ minLength: 129, maxLength: 140 }).map((s) => `gpt-4o-${s}`),
);

describe('knownModel memo', () => {
  it('answers as the matching rules for any id, repeated, on the default table and a frozen one of mixed case', () => {
    const custom: PriceTable = Object.freeze({
      'Acme-1': { inputPerMTokUsd: 1, outputPerMTokUsd: 2 },
      'acme-1-mini': { inputPerMTokUsd: 0.5, outputPerMTokUsd: 1 },
      zero: undefined as never,
    });
    fc.assert(
      fc.property(fc.array(id, { minLength: 1, maxLength: 20 }), (ids) => {
        for (const m of [...ids, ...ids]) {
          expect(knownModel(m)).toBe(oldKnownModel(m));
          expect(knownModel(m, custom)).toBe(oldKnownModel(m, custom));
          expect(knownModel(`acme-1-${m}`, custom)).toBe(oldKnownModel(`acme-1-${m}`, custom));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('past 256 ids per table the rest are matched each time, with the same answers', () => {
    const table: PriceTable = Object.freeze({ m: { inputPerMTokUsd: 1, outputPerMTokUsd: 1 } });
    for (let round = 0; round < 2; round++)
      for (let i = 0; i < 600; i++) {
        const m = i % 2 === 0 ? `m-${i}` : `n-${i}`;
        expect(knownModel(m, table)).toBe(i % 2 === 0 ? 'm' : undefined);
      }
  });

  it('a table that is not frozen is matched every time: a price added later is found', () => {
    const table: Record<string, { inputPerMTokUsd: number; outputPerMTokUsd: number }> = {};
    expect(knownModel('late-model-2025', table)).toBeUndefined();
    table['late-model'] = { inputPerMTokUsd: 1, outputPerMTokUsd: 3 };
    expect(knownModel('late-model-2025', table)).toBe('late-model');
    expect(costUsd('late-model-2025', 1_000_000, 1_000_000, table)).toBe(4);
    expect(costMicroUsd('late-model-2025', 1, 1, table)).toBe(4);
    delete table['late-model'];
    expect(priceFor('late-model-2025', table)).toBeUndefined();
    // Frozen after it was first seen not frozen: still right (matched every time).
    table.other = { inputPerMTokUsd: 2, outputPerMTokUsd: 2 };
    Object.freeze(table);
    expect(knownModel('other', table)).toBe('other');
  });

  it('a table that is not an object fails as before', () => {
    expect(() => knownModel('gpt-4o', null as never)).toThrow(TypeError);
  });
});
