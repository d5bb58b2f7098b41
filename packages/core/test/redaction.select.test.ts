import { describe, expect, it } from 'vitest';
import { ALL_DETECTORS, selectDetectors } from '../src/redaction/redact.ts';
import { REDACTION_TYPES, type RedactionType } from '../src/redaction/types.ts';

/**
 * The scan keeps its trigger plan per detector list (engine.ts planOf, a WeakMap by the list), so
 * a `types` option must give the same list every call: piiGuard({ types }) scans every prompt
 * and response, and a list built per call rebuilt the plan per scan (a 65-character prompt,
 * every type listed: ~50 us a scan against ~0.5 us without `types`).
 */
describe('redaction selectDetectors', () => {
  it('the same types, in any order or repeated, give the same list, in priority order', () => {
    const a = selectDetectors({ types: ['email', 'jwt', 'phone'] });
    expect(selectDetectors({ types: ['phone', 'email', 'jwt', 'email'] })).toBe(a);
    expect(a).toEqual(ALL_DETECTORS.filter((d) => ['email', 'jwt', 'phone'].includes(d.type)));
    expect(selectDetectors({ types: [...REDACTION_TYPES] })).toEqual(ALL_DETECTORS);
    expect(selectDetectors(undefined)).toBe(ALL_DETECTORS);
    expect(selectDetectors({})).toBe(ALL_DETECTORS);
  });

  it('unknown names select nothing, as before; every subset of single types selects its own', () => {
    expect(selectDetectors({ types: ['nope' as RedactionType] })).toEqual([]);
    expect(selectDetectors({ types: [] })).toEqual([]);
    for (const t of REDACTION_TYPES) {
      const list = selectDetectors({ types: [t] });
      expect(list.length).toBeGreaterThan(0);
      expect(list.every((d) => d.type === t)).toBe(true);
      expect(selectDetectors({ types: [t] })).toBe(list);
    }
  });

  it('past the cache bound, lists are still right (built per call)', () => {
    // 2^16 subsets exist; walk 300 distinct pairs and triples, well past any cache bound.
    let n = 0;
    for (let i = 0; i < REDACTION_TYPES.length && n < 300; i++) {
      for (let j = i + 1; j < REDACTION_TYPES.length && n < 300; j++) {
        for (let k = j + 1; k < REDACTION_TYPES.length && n < 300; k++, n++) {
          const types = [REDACTION_TYPES[i]!, REDACTION_TYPES[j]!, REDACTION_TYPES[k]!];
          expect(selectDetectors({ types })).toEqual(ALL_DETECTORS.filter((d) => types.includes(d.type)));
        }
      }
    }
    expect(n).toBe(300);
  });
});
