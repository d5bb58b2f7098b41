import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRule } from '../src/compile.ts';
import { Incident } from '../src/incident.ts';
import { OverflowIncidents, PlacedOverflowIncidents } from '../src/overflow-incidents.ts';
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
 * Shared mode's overflow tier opens and extends members in the order group steps complete, not
 * in event time. PlacedOverflowIncidents keeps them in lastTrueAt order whatever the order of
 * operations: checked against a model array kept sorted by lastTrueAt (ties: the member placed
 * last after the others, as in memory, where the one extended last is the newest). The full
 * tier's early pick is the model's first (strictly quiet longest), and the members due by a
 * time are exactly a prefix (so a scan stopping at the first not due misses none).
 */
type Op = { kind: 'open' | 'extend' | 'resolveDue'; key: number; t: number };

function place(model: Incident[], inc: Incident): void {
  const at = model.indexOf(inc);
  if (at >= 0) model.splice(at, 1);
  let i = model.length;
  while (i > 0 && model[i - 1]!.lastTrueAt > inc.lastTrueAt) i--;
  model.splice(i, 0, inc);
}

describe('PlacedOverflowIncidents', () => {
  it('keeps lastTrueAt order for operations in any time order; the early pick is the quiet-longest', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(
          fc.record({
            kind: fc.constantFrom<Op['kind']>('open', 'extend', 'resolveDue'),
            key: fc.integer({ min: 0, max: 10 }),
            t: fc.integer({ min: 0, max: 50 }),
          }),
          { maxLength: 200 },
        ),
        (max, ops) => {
          const tier = new PlacedOverflowIncidents(max);
          const model: Incident[] = [];
          for (const op of ops) {
            const key = `k${op.key}`;
            const held = model.find((i) => i.key === key);
            expect(tier.get(key)).toBe(held);
            switch (op.kind) {
              case 'open': {
                if (held !== undefined) break;
                const inc = new Incident(rule, key, op.t, 'd', 10);
                const wantEarly = model.length >= max ? model.shift() : undefined;
                place(model, inc);
                expect(tier.add(inc)).toBe(wantEarly);
                break;
              }
              case 'extend': {
                if (held === undefined) break;
                // A late event (older than the member's last) does not move lastTrueAt back.
                if (op.t > held.lastTrueAt) held.lastTrueAt = op.t;
                place(model, held);
                tier.extended(held);
                break;
              }
              case 'resolveDue': {
                const due = model.filter((i) => i.resolveAt <= op.t);
                expect(model.slice(0, due.length)).toEqual(due);
                for (let inc = tier.first(); inc !== undefined && inc.resolveAt <= op.t; inc = tier.first()) {
                  expect(inc).toBe(model.shift());
                  tier.remove(inc);
                }
                break;
              }
            }
            expect(tier.size).toBe(model.length);
            const got = [...tier.values()];
            expect(got.length).toBe(model.length);
            got.forEach((inc, i) => expect(inc).toBe(model[i]));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the in-memory tier (events in time order) is unchanged: extended moves a member to the newest end', () => {
    const tier = new OverflowIncidents(3);
    const [a, b] = [new Incident(rule, 'a', 10, 'd', 10), new Incident(rule, 'b', 20, 'd', 10)];
    tier.add(a);
    tier.add(b);
    a.lastTrueAt = 30;
    tier.extended(a);
    expect([...tier.values()].map((i) => i.key)).toEqual(['b', 'a']);
  });
});
