import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { compileRule } from '../src/compile.ts';
import type { IdenticalState } from '../src/conditions/identical.ts';
import { GroupTable } from '../src/group-table.ts';
import type { ConditionDefinition, RuleDefinition, WherePredicate } from '../src/index.ts';
import { SlabIdenticalShared } from '../src/slab/identical-shared.ts';
import { SlabIdentical } from '../src/slab/identical.ts';
import type { SlabRatio } from '../src/slab/ratio.ts';
import type { SlabRule } from '../src/slab/slab-rule.ts';
import { slabRulesFor } from '../src/slab/slab-rules.ts';
import { FIELDS, ODD_VALUES, T0, runEngine } from './slab-support.ts';

/**
 * An identical rule on a co-fed ratio rule's window (slab/identical-shared.ts) against the
 * object conditions: step by step (verdicts, the run's fields, the window's times, the
 * incident text), through whole engines on streams out of order within and past the
 * lateness, and which rule pairs the planner lets share (and which not). The runs count that
 * the shared paths were taken: the identical holding on an inline and on a spilled ratio
 * window, spills and returns of that window, rows evicted, floods at the ratio's cap.
 */

const LIMITS = (maxEventsPerWindow: number) => ({ maxEventsPerWindow, maxDistinctValues: 100 });

function def(
  id: string,
  condition: ConditionDefinition,
  windowMs: number,
  extra: Partial<RuleDefinition> = {},
): RuleDefinition {
  return {
    id,
    title: 't',
    severity: 'warning',
    match: { categories: ['c'] },
    group_by: 'user_id',
    window_ms: windowMs,
    condition,
    ...extra,
  };
}

function plan(defs: RuleDefinition[], maxEventsPerWindow: number) {
  const limits = LIMITS(maxEventsPerWindow);
  const entries = defs.map((d, i) => ({ def: d, rule: compileRule(d, i, limits) }));
  const slabs = slabRulesFor(entries, limits);
  return entries.map((e, i) => ({ ...e, slab: slabs[i]! }));
}

describe('the planner shares a ratio window with an identical rule only when both see the same events', () => {
  const ratio = { kind: 'ratio', min_events: 11, field: 'metadata.b', above: 0.5 } as const;
  const identical = { kind: 'identical', field: 'metadata.a', min_events: 6 } as const;
  const where: WherePredicate[] = [{ field: 'metadata.b', exists: true }];
  const cases: [string, RuleDefinition[], number, boolean][] = [
    [
      'same feed, window, group key; ratio first',
      [def('r', ratio, 300_000), def('i', identical, 300_000)],
      1_000,
      true,
    ],
    [
      'ratio cap (max(maxEventsPerWindow, min_events)) = 11 >= 6',
      [def('r', ratio, 300_000), def('i', identical, 300_000)],
      1,
      true,
    ],
    ['identical first', [def('i', identical, 300_000), def('r', ratio, 300_000)], 1_000, false],
    ['another window', [def('r', ratio, 300_000), def('i', identical, 60_000)], 1_000, false],
    [
      'another group key',
      [def('r', ratio, 300_000), def('i', identical, 300_000, { group_by: 'session_id' })],
      1_000,
      false,
    ],
    [
      'another filter',
      [def('r', ratio, 300_000), def('i', identical, 300_000, { match: { categories: ['c'], where } })],
      1_000,
      false,
    ],
    [
      // Rules handed over as objects (rule files take finite numbers only): JSON writes
      // Infinity, -Infinity and NaN all as null, but the filters differ.
      'another filter, equal as JSON (equals Infinity and -Infinity)',
      [
        def('r', ratio, 300_000, {
          match: { categories: ['c'], where: [{ field: 'metadata.x', equals: Infinity }] },
        }),
        def('i', identical, 300_000, {
          match: { categories: ['c'], where: [{ field: 'metadata.x', equals: -Infinity }] },
        }),
      ],
      1_000,
      false,
    ],
    [
      'other categories',
      [def('r', ratio, 300_000), def('i', identical, 300_000, { match: { categories: ['c', 'd'] } })],
      1_000,
      false,
    ],
    [
      'a ratio cap below min_events',
      [def('r', { ...ratio, min_events: 3 }, 300_000), def('i', { ...identical, min_events: 9 }, 300_000)],
      5,
      false,
    ],
  ];
  for (const [name, defs, maxEvents, shared] of cases) {
    it(`${shared ? 'shares' : 'does not share'}: ${name}`, () => {
      const slab = plan(defs, maxEvents).find((p) => p.def.condition.kind === 'identical')!.slab;
      expect(slab).toBeInstanceOf(shared ? SlabIdenticalShared : SlabIdentical);
    });
  }
});

const value = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom<unknown>(3, 3, 3, 5) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(...ODD_VALUES) },
  { weight: 1, arbitrary: fc.double() },
);
const count = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom(1, 15, 16, 17, 30) },
);
const step = fc.record({
  dt: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(0, 1, 2) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 3_000 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 90_000 }) },
  ),
  user: fc.integer({ min: 0, max: 4 }),
  repeat: fc.oneof(
    { weight: 6, arbitrary: fc.constant(1) },
    { weight: 1, arbitrary: fc.integer({ min: 2, max: 40 }) },
  ),
  a: value,
  b: value,
  hasId: fc.constantFrom(true, true, false),
});
type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

function stream(steps: Step[]): { event: SecurityEvent; t: number }[] {
  const out: { event: SecurityEvent; t: number }[] = [];
  let clock = T0;
  for (const s of steps) {
    clock += s.dt;
    for (let k = 0; k < s.repeat; k++) {
      const i = out.length;
      const event = {
        timestamp: new Date(clock).toISOString(),
        category: 'c',
        severity: 'info',
        user_id: `u${s.user}`,
        metadata: { a: s.a, b: s.b },
      } as unknown as SecurityEvent;
      if (s.hasId) event.event_id = `E${i}`;
      out.push({ event, t: clock });
    }
  }
  return out;
}

interface Paths {
  holdsInline: number;
  holdsSpilled: number;
  holdsAtCap: number;
  spills: number;
  returns: number;
  evicted: number;
}

/** The identical state's comparable parts: the run's fields, and its times inside the window. */
function live(s: IdenticalState, cutoff: number): unknown {
  const times: number[] = [];
  for (let k = 0; k < s.size; k++) if (s.timeAt(s.at(k)) > cutoff) times.push(s.timeAt(s.at(k)));
  return { value: s.value, breakAt: s.breakAt, prevAt: s.prevAt, times };
}

describe('identical on a shared ratio window, step by step against the object conditions', () => {
  it('gives the same verdicts, run, in-window times and incident text after every event', () => {
    const paths: Paths = {
      holdsInline: 0,
      holdsSpilled: 0,
      holdsAtCap: 0,
      spills: 0,
      returns: 0,
      evicted: 0,
    };
    fc.assert(
      fc.property(
        count,
        count,
        fc.constantFrom(...FIELDS.slice(0, 2)),
        fc.constantFrom(1, 50, 5_000, 60_000),
        fc.constantFrom(0, 1, 3, 12, 1_000),
        fc.constantFrom(1, 2, 100),
        fc.boolean(),
        fc.array(step, { minLength: 1, maxLength: 120, size: 'max' }),
        (ratioMin, identicalMin, field, windowMs, maxEvents, maxGroups, withOthers, steps) => {
          const defs = [
            def(
              'r',
              { kind: 'ratio', min_events: ratioMin, field: 'metadata.b', equals: 3, above: 0.3 },
              windowMs,
            ),
            ...(withOthers
              ? [def('m', { kind: 'monotonic', value: ['metadata.b'], min_events: 2, factor: 1 }, windowMs)]
              : []),
            def('i', { kind: 'identical', field, min_events: identicalMin }, windowMs),
            ...(withOthers
              ? [
                  def(
                    'bl',
                    { kind: 'baseline', sum: ['metadata.a'], factor: 1, sigmas: 0, min_samples: 1 },
                    windowMs,
                  ),
                ]
              : []),
          ];
          const rules = plan(defs, maxEvents);
          const shared = rules.find((r) => r.def.id === 'i')!;
          const ratio = rules[0]!.slab as SlabRatio;
          if (Math.max(maxEvents, ratioMin) < identicalMin) {
            expect(shared.slab).toBeInstanceOf(SlabIdentical);
            return;
          }
          expect(shared.slab).toBeInstanceOf(SlabIdenticalShared);
          const slabs = rules.map((r) => r.slab as SlabRule);
          const table = new GroupTable('user_id', maxGroups, rules.length, slabs);
          const store = table.slab!;
          const isSpilled = (g: number): boolean => store.spillsOf(g).includes(ratio.state(store, g));
          for (const { event, t } of stream(steps)) {
            const evictedBefore = table.evicted;
            const g = table.touch(event.user_id);
            if (table.evicted > evictedBefore) {
              paths.evicted++;
              expect(isSpilled(g)).toBe(false);
            }
            const spilledBefore = isSpilled(g);
            rules.forEach(({ rule, slab }, i) => {
              const objectState = (table.stateRow(g)[i] ??= rule.condition.createState());
              const want = rule.condition.update(objectState, event, t);
              expect(slab!.update(store, g, event, t), rule.id).toBe(want);
              if (slab !== shared.slab) return;
              const cutoff = t - windowMs;
              const slabState = slab.state(store, g) as IdenticalState;
              expect(live(slabState, cutoff)).toEqual(live(objectState as IdenticalState, cutoff));
              if (want) {
                if (isSpilled(g)) paths.holdsSpilled++;
                else paths.holdsInline++;
                if (ratio.windowSize(store, g) === ratio.max) paths.holdsAtCap++;
                expect(rule.condition.describe(slab.state(store, g, event), t)).toBe(
                  rule.condition.describe(objectState, t),
                );
              }
            });
            const spilledAfter = isSpilled(g);
            if (!spilledBefore && spilledAfter) paths.spills++;
            if (spilledBefore && !spilledAfter) paths.returns++;
          }
        },
      ),
      { numRuns: 200, seed: 13_2041 },
    );
    expect(paths.holdsInline).toBeGreaterThan(100);
    expect(paths.holdsSpilled).toBeGreaterThan(30);
    expect(paths.holdsAtCap).toBeGreaterThan(10);
    expect(paths.spills).toBeGreaterThan(30);
    expect(paths.returns).toBeGreaterThan(10);
    expect(paths.evicted).toBeGreaterThan(100);
  });
});

describe('identical on a shared ratio window, whole engines', () => {
  it('gives the object path its alerts on streams out of order within and past the lateness', () => {
    const rules = [
      def('r', { kind: 'ratio', min_events: 4, field: 'metadata.b', equals: 3, above: 0.5 }, 60_000),
      def('i', { kind: 'identical', field: 'metadata.a', min_events: 3 }, 60_000),
      def('i_many', { kind: 'identical', field: 'metadata.b', min_events: 12 }, 60_000),
      def('bl', { kind: 'baseline', sum: ['metadata.a'], factor: 2, sigmas: 0, min_samples: 2 }, 60_000),
    ];
    expect(plan(rules, 20).filter((p) => p.slab instanceof SlabIdenticalShared)).toHaveLength(2);
    let identicalAlerts = 0;
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 10, maxLength: 200 }),
        /** Each event's arrival is moved back by up to this much event time (out of order). */
        fc.array(fc.integer({ min: 0, max: 40_000 }), { minLength: 200, maxLength: 200 }),
        fc.record({
          maxEventsPerWindow: fc.constantFrom(1, 12, 1_000),
          maxGroupsPerRule: fc.constantFrom(2, 100),
          allowedLatenessMs: fc.constantFrom(0, 10_000, 30_000),
          maxBufferedEvents: fc.constantFrom(5, 100_000),
        }),
        (steps, delays, limits) => {
          const events = stream(steps);
          // Arrival order: by time plus a delay, so some arrive within the lateness, some past it.
          const arrival = events
            .map((e, i) => ({ e, at: e.t + delays[i % delays.length]! }))
            .sort((x, y) => x.at - y.at)
            .map((x) => x.e);
          const slab = runEngine(arrival, rules, limits, false);
          const object = runEngine(arrival, rules, limits, true);
          identicalAlerts += object.log.filter((l) => /"rule":"i(_many)?"/.test(l)).length;
          expect(slab.log).toEqual(object.log);
          expect(slab.open).toEqual(object.open);
          expect(slab.stats).toEqual(object.stats);
        },
      ),
      { numRuns: 150, seed: 13_2042, endOnFailure: true },
    );
    expect(identicalAlerts).toBeGreaterThan(100);
  });
});

describe('identical on a shared ratio window, a window below the resolution of event times', () => {
  it('does not count the event at hand as inside a window whose cutoff rounds to its time', () => {
    // 0.0001 ms (a rule file may say `window: 0.0001ms`): t - window === t for 2026 times, so
    // no event is ever inside the window and the object condition never holds; the ratio's
    // window still holds the event just pushed.
    const windowMs = 0.0001;
    expect(T0 - windowMs).toBe(T0);
    const rules = [
      def('r', { kind: 'ratio', min_events: 1, field: 'metadata.b', above: 0.5 }, windowMs),
      def('i', { kind: 'identical', field: 'metadata.a', min_events: 1 }, windowMs),
    ];
    expect(plan(rules, 1_000)[1]!.slab).toBeInstanceOf(SlabIdenticalShared);
    const events = stream([
      { dt: 0, user: 0, repeat: 3, a: 3, b: 3, hasId: true },
      { dt: 5, user: 0, repeat: 2, a: 3, b: 3, hasId: true },
    ]);
    const limits = { allowedLatenessMs: 0 };
    const slab = runEngine(events, rules, limits, false);
    const object = runEngine(events, rules, limits, true);
    expect(object.stats.alertsFired).toBe(0);
    expect(slab.log).toEqual(object.log);
    expect(slab.stats).toEqual(object.stats);
  });
});
