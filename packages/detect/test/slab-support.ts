import fc from 'fast-check';
import type { Alert, SecurityEvent } from '@llmsec/core';
import { DetectionEngine, OBJECT_STATE_ONLY } from '../src/engine.ts';
import type { ConditionDefinition, RuleDefinition } from '../src/index.ts';

/**
 * What the slab tests (slab-conditions, slab-random-rules, slab-differential) share: the
 * fields events carry, the odd values rule objects and events allow, the four conditions that
 * have a slab implementation with every odd parameter (min_events 1, `last` 1 or above the
 * inline rings, factors 0 and fractional, `above` 0 and 1), and one engine run to compare the
 * slab path with the object path.
 */
export const T0 = Date.parse('2026-11-22T10:00:00.000Z');
export const FIELDS = ['metadata.a', 'metadata.b', 'request_preview'];

/** Values no condition may trip over: missing, null, zeros, infinities, NaN, non-numbers. */
export const ODD_VALUES: readonly unknown[] = [
  undefined,
  null,
  0,
  -0,
  -3,
  0.5,
  1e308,
  -1e308,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Number.NaN,
  '',
  'xyz',
  true,
  {},
];

export interface SlabConditionOptions {
  /** `equals` of ratio conditions (undefined: the default, true). */
  ratioEquals: readonly (string | number | boolean | undefined)[];
  /** Largest `min_samples` of baseline conditions. */
  maxSamples: number;
}

/** ratio, identical, monotonic and baseline conditions, thresholds drawn from `count`. */
export function slabConditions(
  count: fc.Arbitrary<number>,
  options: SlabConditionOptions,
): fc.Arbitrary<ConditionDefinition>[] {
  return [
    fc
      .record({
        min_events: count,
        field: fc.constantFrom(...FIELDS),
        equals: fc.constantFrom(...options.ratioEquals),
        above: fc.constantFrom(0, 0.2, 0.5, 0.99, 1),
      })
      .map(({ equals, ...c }) => ({
        kind: 'ratio' as const,
        ...c,
        ...(equals === undefined ? {} : { equals }),
      })),
    fc
      .record({ field: fc.constantFrom(...FIELDS), min_events: count })
      .map((c) => ({ kind: 'identical' as const, ...c })),
    fc
      .record({
        value: fc.subarray(FIELDS, { minLength: 1 }),
        min_events: count,
        last: fc.option(count, { nil: undefined }),
        factor: fc.constantFrom(0, 0.5, 1, 1.5, 3),
      })
      .map(({ last, ...c }) => ({
        kind: 'monotonic' as const,
        ...c,
        ...(last === undefined ? {} : { last }),
      })),
    fc
      .record({
        sum: fc.subarray(FIELDS, { minLength: 1 }),
        factor: fc.constantFrom(0, 1, 2),
        sigmas: fc.constantFrom(0, 1),
        min_samples: fc.integer({ min: 1, max: options.maxSamples }),
      })
      .map((c) => ({ kind: 'baseline' as const, ...c })),
  ];
}

/**
 * Runs `stream` through an engine (the object path when `objectOnly`) and returns everything
 * the two paths must agree on: each alert and update in order, the open incidents, the stats.
 */
export function runEngine(
  stream: { event: SecurityEvent; t: number }[],
  rules: RuleDefinition[],
  limits: object,
  objectOnly: boolean,
) {
  const log: string[] = [];
  const note = (kind: string) => (a: Alert) => log.push(`${kind} ${JSON.stringify(a)}`);
  const engine = new DetectionEngine({
    rules,
    ...limits,
    onAlert: note('alert'),
    onUpdate: note('update'),
    ...(objectOnly ? { [OBJECT_STATE_ONLY]: true } : {}),
  });
  for (const { event, t } of stream) engine.ingest(event, t);
  const open = engine.activeIncidents().map((a) => JSON.stringify(a));
  engine.flush();
  return { log, open, stats: engine.stats, groups: engine.groupCount };
}
