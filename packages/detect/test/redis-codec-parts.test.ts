import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRule } from '../src/compile.ts';
import { keyString } from '../src/fields.ts';
import { defaultRules, type RuleDefinition } from '../src/index.ts';
import { decodeState, encodeState } from '../src/state/codec.ts';
import {
  decodeBody,
  emptyBody,
  encodeBody,
  stepGroup,
  type GroupBody,
  type RuleTable,
} from '../src/state/group-runner.ts';
import { build, draw, TIGHT } from './streams.ts';

/**
 * encodeBody writes a group from parts and reuses the text of rule states no event reached
 * since the last write. Whatever the stream, its text must be what encoding the whole body
 * afresh gives, at every step: a cached part that missed a change would store a stale state.
 */

const LIMITS = { maxUsersPerAlert: 20, maxPending: 1_000, recentIds: 32 };

function tablesOf(defs: RuleDefinition[]): RuleTable[] {
  const compiled = defs.map((d, i) =>
    compileRule(d, i, { maxEventsPerWindow: 1_000, maxDistinctValues: 100 }),
  );
  const byField = new Map<string, RuleTable>();
  for (const rule of compiled) {
    let t = byField.get(rule.groupBy);
    if (t === undefined)
      byField.set(rule.groupBy, (t = { field: rule.groupBy, index: byField.size, rules: [], ttlMs: 1 }));
    t.rules.push(rule);
  }
  return [...byField.values()];
}

for (const [name, defs] of [
  ['default rules', defaultRules()],
  ['tight rules (every condition kind)', TIGHT],
] as const) {
  describe(`encodeBody (cached rule states): ${name}`, () => {
    const tables = tablesOf(defs);
    it('equals encodeState of the whole body after every step, and decodes to it', () => {
      fc.assert(
        fc.property(
          fc.array(draw, { minLength: 1, maxLength: 120 }),
          fc.integer({ min: 1, max: 7 }),
          (draws, per) => {
            const stream = build(draws);
            const bodies = new Map<string, GroupBody>();
            let clock = Number.NEGATIVE_INFINITY;
            let checked = 0;
            for (let i = 0; i < stream.length; i += per) {
              const slice = stream.slice(i, i + per);
              for (const { t } of slice) if (t > clock) clock = t;
              for (const table of tables) {
                const byGroup = new Map<string, { t: number; event: (typeof slice)[number]['event'] }[]>();
                for (const { t, event } of slice) {
                  const rule = table.rules.find(
                    (r) =>
                      r.categories.includes(event.category) && (r.filter === undefined || r.filter(event)),
                  );
                  if (rule === undefined) continue;
                  const group = keyString(rule.groupKey(event));
                  if (group === undefined) continue; // no group: the engine skips the table too
                  let list = byGroup.get(group);
                  if (list === undefined) byGroup.set(group, (list = []));
                  list.push({ t, event });
                }
                for (const [group, events] of byGroup) {
                  const key = `${table.index}:${group}`;
                  const body = bodies.get(key) ?? emptyBody(group);
                  const step = stepGroup(table, body, events, clock - 30_000, LIMITS);
                  const parts = encodeBody(step.body);
                  expect(parts).toBe(encodeState(step.body));
                  checked++;
                  // Every other group goes through its text, as a group read from Redis does.
                  bodies.set(key, checked % 2 === 0 ? decodeBody(parts) : step.body);
                  expect(encodeState(decodeState(parts))).toBe(parts);
                }
              }
            }
            expect(checked).toBeGreaterThan(0);
          },
        ),
        { numRuns: 60 },
      );
    });
  });
}
