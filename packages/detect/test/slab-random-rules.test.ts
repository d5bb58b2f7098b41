import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import type { ConditionDefinition, RuleDefinition } from '../src/index.ts';
import { FIELDS, ODD_VALUES, T0, runEngine, slabConditions } from './slab-support.ts';

/**
 * The slab path against the object path through the whole engine, on random rule sets rather
 * than fixed files: rules of every kind (object-state ones too) with odd parameters (min_events
 * 1, last 1, windows of 1 ms, thresholds above the inline rings and above
 * maxEventsPerWindow), grouped by user_id, session_id or a metadata value (so a table mixes
 * slab and object rules, and group keys may be numbers, booleans or missing), events out of
 * order within and beyond the allowed lateness, ties, floods of one group, missing ids and
 * fields, and the reorder buffer overflowing. Every alert, update, open incident and stat must
 * match. (slab-conditions.test.ts compares the states themselves after every event.)
 */

const ODD = [...ODD_VALUES, false, [1]];
const value = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 6 }) },
  { weight: 2, arbitrary: fc.constantFrom(...ODD) },
  { weight: 1, arbitrary: fc.double() },
);
const count = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 24 }) },
  { weight: 1, arbitrary: fc.constantFrom(1, 16, 17, 40) },
);

const condition: fc.Arbitrary<ConditionDefinition> = fc.oneof(
  ...slabConditions(count, { ratioEquals: [undefined, true, 1, 'xyz', 0], maxSamples: 5 }),
  fc.record({ min: fc.integer({ min: 1, max: 5 }) }).map((c) => ({ kind: 'count' as const, ...c })),
  fc
    .record({ field: fc.constantFrom(...FIELDS), min: fc.integer({ min: 1, max: 4 }) })
    .map((c) => ({ kind: 'distinct' as const, ...c })),
);

const rule = fc.record({
  condition,
  group_by: fc.constantFrom('user_id', 'user_id', 'session_id', 'metadata.g'),
  window_ms: fc.constantFrom(1, 2, 5, 50, 1_000, 60_000),
  quiet_ms: fc.option(fc.constantFrom(0, 1, 10, 1_000), { nil: undefined }),
  categories: fc.subarray(['a', 'b'], { minLength: 1 }),
});
type RandomRule = typeof rule extends fc.Arbitrary<infer T> ? T : never;

function ruleSet(list: RandomRule[]): RuleDefinition[] {
  return list.map(({ categories, quiet_ms, ...r }, i) => ({
    id: `r${i}`,
    title: 't',
    severity: 'warning',
    match: { categories },
    ...r,
    ...(quiet_ms === undefined ? {} : { quiet_ms }),
  }));
}

const step = fc.record({
  /** Time since the previous event: ties, steps, gaps past the windows, and steps back. */
  dt: fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(0, 0, 1, 2, 3) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 2_000 }) },
    { weight: 1, arbitrary: fc.integer({ min: -3_000, max: 70_000 }) },
  ),
  user: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom<unknown>(undefined, '', 7, true)),
  session: fc.constantFrom<unknown>('s0', 's1', undefined),
  group: fc.constantFrom<unknown>(1, 2, 'x', true, undefined, 0),
  category: fc.constantFrom('a', 'b', 'c'),
  a: value,
  b: value,
  preview: fc.constantFrom<unknown>(undefined, 'x', 'xx', 'xxx', 'xxxxxxxx'),
  repeat: fc.oneof(
    { weight: 8, arbitrary: fc.constant(1) },
    { weight: 1, arbitrary: fc.integer({ min: 2, max: 60 }) },
  ),
  grow: fc.constantFrom(0, 0, 1),
  hasTrace: fc.boolean(),
  hasId: fc.constantFrom(true, true, true, false),
});
type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

function events(steps: Step[]): { event: SecurityEvent; t: number }[] {
  const out: { event: SecurityEvent; t: number }[] = [];
  let clock = T0;
  for (const s of steps) {
    clock += s.dt;
    for (let k = 0; k < s.repeat; k++) {
      const i = out.length;
      const a = typeof s.a === 'number' ? s.a + k * s.grow : s.a;
      const event: Record<string, unknown> = {
        timestamp: new Date(clock).toISOString(),
        category: s.category,
        severity: 'info',
        metadata: { a, b: s.b, g: s.group },
      };
      if (s.hasId) event.event_id = `E${i}`;
      if (s.user !== undefined) event.user_id = typeof s.user === 'number' ? `u${s.user}` : s.user;
      if (s.session !== undefined) event.session_id = s.session;
      if (s.preview !== undefined) event.request_preview = s.preview;
      if (s.hasTrace) event.trace_id = `T${i}`;
      out.push({ event: event as unknown as SecurityEvent, t: clock });
    }
  }
  return out;
}

describe('slab path vs object path on random rule sets', () => {
  it('gives identical alerts, incidents and stats', () => {
    let alerts = 0;
    fc.assert(
      fc.property(
        fc.array(rule, { minLength: 1, maxLength: 6, size: 'max' }),
        fc.array(step, { minLength: 1, maxLength: 250, size: 'max' }),
        fc.record({
          maxEventsPerWindow: fc.constantFrom(0, 1, 2, 3, 7, 1_000),
          maxGroupsPerRule: fc.constantFrom(1, 2, 3, 100),
          allowedLatenessMs: fc.constantFrom(0, 5, 3_000),
          maxBufferedEvents: fc.constantFrom(2, 100_000),
        }),
        (rules, steps, limits) => {
          const defs = ruleSet(rules);
          const stream = events(steps);
          const slab = runEngine(stream, defs, limits, false);
          const object = runEngine(stream, defs, limits, true);
          alerts += object.log.length;
          expect(slab.log).toEqual(object.log);
          expect(slab.open).toEqual(object.open);
          expect(slab.stats).toEqual(object.stats);
          expect(slab.groups).toBe(object.groups);
        },
      ),
      { numRuns: 400, seed: 13_2032 },
    );
    // The comparison means little unless the rules fire.
    expect(alerts).toBeGreaterThan(5_000);
  });
});
