import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { defaultRules, parseRules } from '../src/index.ts';
import { compileRule } from '../src/compile.ts';
import type { RuleDefinition } from '../src/index.ts';
import { INLINE_ENTRIES, slabRulesFor } from '../src/slab/slab-rules.ts';
import { runEngine } from './slab-support.ts';
import { TIGHT } from './streams.ts';

/**
 * Differential property test: the slab implementations of ratio, identical, monotonic and
 * baseline (src/slab/) against the object conditions they stand in for. The same random
 * stream goes through an engine on the slab path and one forced onto the object path; every
 * alert (all fields, in order), every update, the open incidents and the stats must match.
 * The streams have values of every odd kind (0, negative, missing, strings, huge, NaN),
 * gaps past the windows, floods of one user past the inline ring and past
 * maxEventsPerWindow, and more users than maxGroupsPerRule.
 */

const T0 = Date.parse('2026-11-22T10:00:00.000Z');

/** Slab rules with thresholds on both sides of the inline ring (8 entries). */
const SLAB_HEAVY = parseRules(
  `
rules:
  - { id: r_small, title: t, severity: warning, match: { categories: [request_completed] }, window: 2m, condition: { kind: ratio, min_events: 2, field: metadata.blocked, above: 0.4 } }
  - { id: r_big, title: t, severity: warning, match: { categories: [request_completed] }, window: 5m, quiet: 20s, condition: { kind: ratio, min_events: 12, field: metadata.model, equals: m1, above: 0.3 } }
  - { id: i_small, title: t, severity: warning, match: { categories: [request_completed] }, window: 2m, condition: { kind: identical, field: metadata.prompt_length, min_events: 2 } }
  - { id: i_big, title: t, severity: warning, match: { categories: [request_completed, guardrail_block] }, window: 10m, condition: { kind: identical, field: metadata.prompt_length, min_events: 13 } }
  - { id: m_all, title: t, severity: alert, match: { categories: [request_completed, guardrail_block] }, window: 4m, condition: { kind: monotonic, value: [request_preview, metadata.new_input_length], min_events: 3, factor: 1.5 } }
  - { id: m_last, title: t, severity: warning, match: { categories: [request_completed] }, window: 3m, condition: { kind: monotonic, value: metadata.new_input_length, min_events: 2, last: 20, factor: 2 } }
  - { id: m_last_small, title: t, severity: warning, match: { categories: [request_completed] }, window: 3m, condition: { kind: monotonic, value: metadata.prompt_length, min_events: 4, last: 5, factor: 1.2 } }
  - { id: b_sum, title: t, severity: warning, match: { categories: [request_completed] }, window: 1m, condition: { kind: baseline, sum: [metadata.prompt_tokens, metadata.completion_tokens], factor: 2, sigmas: 1, min_samples: 3 } }
  - { id: b_session, title: t, severity: warning, match: { categories: [request_completed] }, group_by: session_id, window: 1m, condition: { kind: baseline, sum: [metadata.prompt_tokens], factor: 1.5, sigmas: 0.5, min_samples: 2 } }
  - { id: c_count, title: t, severity: alert, match: { categories: [guardrail_block] }, window: 2m, condition: { kind: count, min: 3 } }
`,
  'slab-heavy.yaml',
);

const odd = fc.constantFrom<unknown>(
  undefined,
  0,
  -5,
  -0.5,
  1e308,
  Number.POSITIVE_INFINITY,
  Number.NaN,
  'abcd',
  true,
);
const value = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<unknown>(200, 200, 200, 300, 50) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 5_000 }) },
  { weight: 2, arbitrary: odd },
);

interface Burst {
  user: number;
  session: number;
  /** Gap before the burst, and between its events. */
  gapMs: number;
  stepMs: number;
  /** Events in the burst: mostly one, sometimes a flood. */
  repeat: number;
  /** Per event of the burst, the values grow by this much (monotonic runs). */
  grow: number;
  kind: number;
  blocked: unknown;
  model: string;
  promptLength: unknown;
  newInput: unknown;
  promptTokens: unknown;
  completionTokens: unknown;
  hasTrace: boolean;
}

const burst = fc.record<Burst>({
  user: fc.integer({ min: 0, max: 9 }),
  session: fc.integer({ min: 0, max: 2 }),
  gapMs: fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 20_000 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 12 * 60_000 }) },
  ),
  stepMs: fc.integer({ min: 0, max: 8_000 }),
  repeat: fc.oneof(
    { weight: 10, arbitrary: fc.constant(1) },
    { weight: 2, arbitrary: fc.integer({ min: 2, max: INLINE_ENTRIES + 3 }) },
    { weight: 1, arbitrary: fc.integer({ min: 15, max: 45 }) },
  ),
  grow: fc.constantFrom(0, 0, 1, 37),
  kind: fc.integer({ min: 0, max: 9 }),
  blocked: fc.constantFrom<unknown>(true, true, false, undefined, 'true'),
  model: fc.constantFrom('m1', 'm1', 'm2'),
  promptLength: value,
  newInput: value,
  promptTokens: value,
  completionTokens: value,
  hasTrace: fc.boolean(),
});

function build(bursts: Burst[]): { event: SecurityEvent; t: number }[] {
  const out: { event: SecurityEvent; t: number }[] = [];
  let clock = T0;
  for (const b of bursts) {
    clock += b.gapMs;
    for (let k = 0; k < b.repeat; k++) {
      if (k > 0) clock += b.stepMs;
      const i = out.length;
      const grown = (v: unknown): unknown => (typeof v === 'number' ? v + k * b.grow : v);
      const event: SecurityEvent = {
        event_id: `E${i}`,
        timestamp: new Date(clock).toISOString(),
        category: b.kind < 8 ? 'request_completed' : 'guardrail_block',
        severity: 'info',
        user_id: `u${b.user}`,
        session_id: `s${b.session}`,
        metadata: {},
      };
      if (b.hasTrace) event.trace_id = `T${i}`;
      const m = event.metadata as Record<string, unknown>;
      const set = (key: string, v: unknown): void => {
        if (v !== undefined) m[key] = v;
      };
      if (event.category === 'request_completed') {
        set('model', b.model);
        set('blocked', b.blocked);
        set('prompt_length', grown(b.promptLength));
        set('new_input_length', grown(b.newInput));
        set('prompt_tokens', grown(b.promptTokens));
        set('completion_tokens', b.completionTokens);
      } else {
        set('prompt_length', grown(b.promptLength));
        set('guardrail_layer', 'l1');
        if (b.grow > 0) event.request_preview = 'x'.repeat(1 + k * b.grow);
      }
      out.push({ event, t: clock });
    }
  }
  return out;
}

interface Limits {
  maxEventsPerWindow: number;
  maxGroupsPerRule: number;
  allowedLatenessMs: number;
}

/** The rules' slab implementations as the engine plans them. */
function planned(rules: readonly RuleDefinition[]): string[] {
  const limits = { maxEventsPerWindow: 3, maxDistinctValues: 1_000 };
  const entries = rules.map((def, i) => ({ def, rule: compileRule(def, i, limits) }));
  return slabRulesFor(entries, limits).map((s) => s?.constructor.name ?? 'object');
}

describe('slab conditions vs object conditions', () => {
  it("run an identical rule on a ratio rule's window in the slab-heavy and default rules", () => {
    // The streams below then compare that shared window (identical-shared.ts) with the object path.
    expect(planned(SLAB_HEAVY).filter((k) => k === 'SlabIdenticalShared')).toHaveLength(1);
    expect(planned(defaultRules())[defaultRules().findIndex((r) => r.id === 'identical_requests')]).toBe(
      'SlabIdenticalShared',
    );
  });

  const ruleSets = [
    ['slab-heavy rules', SLAB_HEAVY],
    ['default rules', defaultRules()],
    ['tight rules', TIGHT],
  ] as const;
  for (const [name, rules] of ruleSets) {
    it(`give identical alerts on random streams: ${name}`, () => {
      let alerts = 0;
      fc.assert(
        fc.property(
          fc.array(burst, { minLength: 20, maxLength: 250 }),
          fc.record<Limits>({
            maxEventsPerWindow: fc.constantFrom(3, 10, 20, 1_000),
            maxGroupsPerRule: fc.constantFrom(2, 4, 100),
            allowedLatenessMs: fc.constantFrom(0, 30_000),
          }),
          (bursts, limits) => {
            const stream = build(bursts);
            const slab = runEngine(stream, rules, limits, false);
            const object = runEngine(stream, rules, limits, true);
            alerts += object.log.length;
            expect(slab.log).toEqual(object.log);
            expect(slab.open).toEqual(object.open);
            expect(slab.stats).toEqual(object.stats);
            expect(slab.groups).toBe(object.groups);
          },
        ),
        { numRuns: 150, seed: 13_2026, endOnFailure: true },
      );
      // The comparison means little unless the streams make the rules fire.
      expect(alerts).toBeGreaterThan(300);
    });
  }

  it('give identical alerts with rows on many slab pages, evicted and reused', () => {
    // Over a thousand users (pages hold 256 rows), a cap below that: rows on every page are
    // evicted and handed to new groups mid-window.
    const wide = burst.map((b) => ({ ...b, user: b.user * 150 + (b.gapMs % 150) }));
    fc.assert(
      fc.property(
        fc.array(wide, { minLength: 300, maxLength: 1_500 }),
        fc.constantFrom(300, 700, 2_000),
        (bursts, maxGroupsPerRule) => {
          const stream = build(bursts);
          const limits = { maxEventsPerWindow: 20, maxGroupsPerRule, allowedLatenessMs: 0 };
          const slab = runEngine(stream, SLAB_HEAVY, limits, false);
          const object = runEngine(stream, SLAB_HEAVY, limits, true);
          expect(slab.log).toEqual(object.log);
          expect(slab.open).toEqual(object.open);
          expect(slab.stats).toEqual(object.stats);
        },
      ),
      { numRuns: 20, seed: 13_2027, endOnFailure: true },
    );
  });
});
