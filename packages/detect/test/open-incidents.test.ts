import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRule } from '../src/compile.ts';
import { Incident } from '../src/incident.ts';
import { OpenIncidents } from '../src/open-incidents.ts';
import type { RuleDefinition } from '../src/types.ts';

const rule = compileRule(
  {
    id: 'r',
    title: 'r',
    severity: 'warning',
    match: { categories: ['c'] },
    window_ms: 60_000,
    condition: { kind: 'single' },
  } as RuleDefinition,
  0,
  { maxEventsPerWindow: 100, maxDistinctValues: 100 },
);

/**
 * The list against the structure it replaces: a Map in insertion order, where an extended
 * incident is deleted and re-inserted (moved to the back), and the first entry is the one
 * resolved or evicted first.
 */
type Op = { kind: 'open' | 'extend' | 'removeFirst' | 'removeKey'; key: number };

describe('OpenIncidents', () => {
  it('keeps the order and contents of a Map with delete-and-reinsert, for any operations', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.constantFrom<Op['kind']>('open', 'extend', 'removeFirst', 'removeKey'),
            key: fc.integer({ min: 0, max: 12 }),
          }),
          { maxLength: 200 },
        ),
        (ops) => {
          const list = new OpenIncidents();
          const model = new Map<string, Incident>();
          for (const op of ops) {
            const key = `k${op.key}`;
            switch (op.kind) {
              case 'open': {
                if (model.has(key)) break;
                const inc = new Incident(rule, key, 0, 'd', 10);
                list.add(inc);
                model.set(key, inc);
                break;
              }
              case 'extend': {
                const inc = model.get(key);
                expect(list.get(key)).toBe(inc);
                if (inc === undefined) break;
                model.delete(key);
                model.set(key, inc);
                list.extended(inc);
                break;
              }
              case 'removeFirst': {
                const first = model.values().next().value;
                expect(list.first()).toBe(first);
                if (first === undefined) break;
                model.delete(first.key);
                list.remove(first);
                break;
              }
              case 'removeKey': {
                const inc = model.get(key);
                if (inc === undefined) break;
                model.delete(key);
                list.remove(inc);
                break;
              }
            }
            expect(list.size).toBe(model.size);
            const got = [...list.values()];
            const want = [...model.values()];
            expect(got.map((i) => i.key)).toEqual(want.map((i) => i.key));
            got.forEach((inc, i) => expect(inc).toBe(want[i]));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
