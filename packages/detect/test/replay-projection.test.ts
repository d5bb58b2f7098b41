import { serialize } from 'node:v8';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { defaultRules, parseRules, type RuleDefinition } from '../src/index.ts';
import { BatchArrays, cutBatch } from '../src/replay-batch-array.ts';
import { ReplayProjection } from '../src/replay-projection.ts';
import { fieldsOf, projector } from '../src/state/projection.ts';

/**
 * The replay's flat transfer form (and the one-thread replay's projected event) against the shared state's projector it stands for: what the
 * engine's thread reads back after a structured clone is the projector's event plus the
 * timestamp, same fields, same values, same key order (JSON text compared, and toEqual).
 */

const CATEGORIES = ['request_completed', 'guardrail_block', 'output_filter_block', 'auth_failure', 'odd'];
const FIELDS = [
  'user_id',
  'session_id',
  'source_ip',
  'service',
  'description',
  'request_preview',
  'response_preview',
  'timestamp',
  'trace_id',
  'metadata.model',
  'metadata.prompt_length',
  'metadata.blocked',
  'metadata.tags',
  'fingerprint',
];

function rulesReading(picks: { category: string; field: string; groupBy: string }[]): RuleDefinition[] {
  const yaml = picks
    .map(
      (p, i) => `  - id: r${i}
    title: t
    severity: warning
    match: { categories: [${p.category}] }
    group_by: ${p.groupBy}
    window: 1m
    condition: { kind: distinct, field: ${p.field}, min: 2 }`,
    )
    .join('\n');
  return parseRules(`rules:\n${yaml}\n`);
}

/** What the projector keeps, as the two-thread replay used to send it. */
function expected(rules: RuleDefinition[], event: SecurityEvent): SecurityEvent {
  const paths = rules.filter((r) => r.match.categories.includes(event.category)).flatMap(fieldsOf);
  const out = projector(paths)(event);
  out.timestamp = event.timestamp;
  return out;
}

const optional = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.option(arb, { nil: undefined, freq: 3 });

const eventArb: fc.Arbitrary<SecurityEvent> = fc
  .record({
    event_id: fc.string({ minLength: 1 }),
    timestamp: fc.constant('2026-11-22T10:00:00.000Z'),
    category: fc.constantFrom(...CATEGORIES),
    severity: fc.constantFrom('info', 'warning', 'alert', 'critical'),
    user_id: fc.string({ minLength: 1 }),
    session_id: optional(fc.string()),
    trace_id: optional(fc.string()),
    span_id: optional(fc.string()),
    source_ip: optional(fc.string()),
    service: optional(fc.string()),
    description: optional(fc.string({ unit: 'grapheme' })),
    request_preview: optional(fc.string({ unit: 'grapheme' })),
    response_preview: optional(fc.string()),
    metadata: optional(
      fc.record(
        {
          model: fc.string(),
          prompt_length: fc.oneof(fc.integer(), fc.double(), fc.constant(-0)),
          blocked: fc.boolean(),
          tags: fc.array(fc.string()),
          payload_fingerprint: fc.string({ minLength: 16, maxLength: 16 }),
        },
        { requiredKeys: [] },
      ),
    ),
  })
  .map((raw) => {
    // Absent, not undefined: a decoded event has no key for a missing field.
    const event = { ...raw } as Record<string, unknown>;
    for (const k of Object.keys(event)) if (event[k] === undefined) delete event[k];
    return event as unknown as SecurityEvent;
  });

function roundTrip(rules: RuleDefinition[] | undefined, events: SecurityEvent[]): SecurityEvent[] {
  const writer = new ReplayProjection(rules);
  const reader = new ReplayProjection(rules);
  const out: SecurityEvent[] = [];
  // Two batches, so categories numbered in the first are known in the second.
  for (const part of [events.slice(0, events.length >> 1), events.slice(events.length >> 1)]) {
    const values: unknown[] = [];
    for (const e of part) writer.write(e, values);
    const batch = structuredClone({ categories: writer.takeNewCategories(), values });
    reader.learnCategories(batch.categories);
    let at = 0;
    for (let i = 0; i < part.length; i++) at = reader.read(batch.values, at, (e) => out.push(e));
    expect(at).toBe(batch.values.length);
  }
  return out;
}

describe('ReplayProjection', () => {
  it('reads back what the projector keeps, key order included: default rules', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 30 }), (events) => {
        const rules = defaultRules();
        const got = roundTrip(rules, events);
        const want = events.map((e) => expected(rules, e));
        expect(got).toEqual(want);
        expect(got.map((e) => JSON.stringify(e))).toEqual(want.map((e) => JSON.stringify(e)));
        const projection = new ReplayProjection(rules);
        const projected = events.map((e) => projection.project(e));
        expect(projected.map((e) => JSON.stringify(e))).toEqual(want.map((e) => JSON.stringify(e)));
      }),
      { numRuns: 200 },
    );
  });

  it('reads back what the projector keeps, key order included: rules reading any field', () => {
    const pick = fc.record({
      category: fc.constantFrom(...CATEGORIES),
      field: fc.constantFrom(...FIELDS),
      groupBy: fc.constantFrom(...FIELDS.filter((f) => f !== 'fingerprint' && f !== 'timestamp')),
    });
    fc.assert(
      fc.property(
        fc.array(pick, { minLength: 1, maxLength: 6 }),
        fc.array(eventArb, { maxLength: 30 }),
        (picks, events) => {
          const rules = rulesReading(picks);
          const got = roundTrip(rules, events);
          const want = events.map((e) => expected(rules, e));
          expect(got).toEqual(want);
          expect(got.map((e) => JSON.stringify(e))).toEqual(want.map((e) => JSON.stringify(e)));
          const projection = new ReplayProjection(rules);
          const projected = events.map((e) => projection.project(e));
          expect(projected).toEqual(want);
          expect(projected.map((e) => JSON.stringify(e))).toEqual(want.map((e) => JSON.stringify(e)));
          // -0 survives (JSON text turned it into 0; the one-thread replay keeps it).
          got.forEach((e, i) =>
            expect(Object.is(e.metadata?.prompt_length, want[i]!.metadata?.prompt_length)).toBe(true),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('without rules, every event crosses whole', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 30 }), (events) => {
        expect(roundTrip(undefined, events)).toEqual(events);
        const projection = new ReplayProjection(undefined);
        for (const e of events) expect(projection.project(e)).toBe(e);
      }),
      { numRuns: 100 },
    );
  });

  // The reader writes each batch by index into an array made at its full length and cut when
  // posted (replay-batch-array.ts), where it pushed before: the batch must clone to the same
  // bytes as the pushed one (same values, and dense: an array with holes clones as a sparse
  // one). Arrays shorter than a batch exercise the writes past the end too.
  it('a batch written by index into a made array and cut clones as the appended one does', () => {
    fc.assert(
      fc.property(
        fc.array(eventArb, { maxLength: 40 }),
        fc.integer({ min: 0, max: 300 }),
        (events, length) => {
          const rules = defaultRules();
          const appending = new ReplayProjection(rules);
          const indexing = new ReplayProjection(rules);
          const appended: unknown[] = [];
          for (const e of events) appending.write(e, appended);
          const made = new BatchArrays(length).fresh();
          let end = 0;
          for (const e of events) end = indexing.write(e, made, end);
          const cut = cutBatch(made, end);
          expect(end).toBe(appended.length);
          expect(serialize({ values: cut })).toEqual(serialize({ values: appended }));
          expect(indexing.takeNewCategories()).toEqual(appending.takeNewCategories());
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a made batch array cut to a length clones densely, whatever it held past the cut', () => {
    const arrays = new BatchArrays(1000);
    for (const [written, cutAt] of [
      [0, 0],
      [10, 10],
      [600, 600],
      [900, 400],
      [1000, 1000],
      [1200, 1100],
    ] as const) {
      const values = arrays.fresh();
      for (let i = 0; i < written; i++) values[i] = i % 2 === 0 ? `v${i}` : i;
      const cut = cutBatch(values, cutAt);
      expect(cut.length).toBe(cutAt);
      // A copy made by push is packed (a spread copy of an array with holes may keep its kind).
      const pushed: unknown[] = [];
      for (const v of cut) pushed.push(v);
      expect(serialize(cut)).toEqual(serialize(pushed));
    }
    expect(arrays.fresh()).toEqual(Array.from({ length: 1000 }, () => undefined));
  });

  it('numbers categories once: a batch names only the ones it is first to use', () => {
    const writer = new ReplayProjection(defaultRules());
    const values: unknown[] = [];
    const event = (category: string): SecurityEvent => ({
      event_id: 'e',
      timestamp: 't',
      category,
      severity: 'info',
      user_id: 'u',
    });
    writer.write(event('auth_failure'), values);
    writer.write(event('odd'), values);
    writer.write(event('auth_failure'), values);
    expect(writer.takeNewCategories()).toEqual(['auth_failure', 'odd']);
    writer.write(event('odd'), values);
    expect(writer.takeNewCategories()).toEqual([]);
    writer.write(event('guardrail_block'), values);
    expect(writer.takeNewCategories()).toEqual(['guardrail_block']);
  });
});
