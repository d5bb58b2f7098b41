import { describe, expect, it } from 'vitest';
import type { Alert, SecurityEvent } from '@llmsec/core';
import { DetectionEngine, type RuleDefinition } from '../src/index.ts';
import { parseRules } from '../src/rule-loader.ts';

/**
 * The where-filter's semantics (compileWhere): every predicate must hold; `exists: false` is
 * "absent", `exists: true` or no `exists` "present", `equals` the same value or the same text
 * (429 and '429': group_by makes them one group, so filters do not tell them apart). One predicate
 * is the filter itself, several run in a loop: both shapes give the same answers.
 */
const rules = (where: string): RuleDefinition[] =>
  parseRules(
    `rules:
  - id: r
    title: r
    severity: alert
    match: { categories: [guardrail_block], where: ${where} }
    group_by: user_id
    window: 1m
    condition: { kind: single }
`,
    'w.yaml',
  );

const event = (user: string, metadata: Record<string, string | number | boolean>): SecurityEvent => ({
  event_id: `E-${user}`,
  timestamp: '2026-12-05T00:00:00.000Z',
  category: 'guardrail_block',
  severity: 'warning',
  user_id: user,
  metadata: { guardrail_layer: 'l', block_reason: 'x', ...metadata },
});

function fired(where: string, events: SecurityEvent[]): string[] {
  const alerts: Alert[] = [];
  const engine = new DetectionEngine({
    rules: rules(where),
    allowedLatenessMs: 0,
    onAlert: (a) => alerts.push(a),
  });
  events.forEach((e, i) => engine.ingest(e, Date.parse(e.timestamp) + i));
  engine.flush();
  return alerts
    .filter((a) => a.status === 'firing')
    .flatMap((a) => a.user_ids)
    .sort();
}

describe('where-filter', () => {
  const events = [
    event('none', {}),
    event('tool', { input_source: 'tool' }),
    event('user', { input_source: 'user' }),
    event('tool-b1', { input_source: 'tool', b: 1 }),
    event('tool-b2', { input_source: 'tool', b: 2 }),
    event('b1', { b: 1 }),
  ];

  it('one predicate: exists false, exists true, equals', () => {
    expect(fired('[{ field: metadata.input_source, exists: false }]', events)).toEqual(['b1', 'none']);
    expect(fired('[{ field: metadata.input_source, exists: true }]', events)).toEqual([
      'tool',
      'tool-b1',
      'tool-b2',
      'user',
    ]);
    expect(fired('[{ field: metadata.input_source }]', events)).toEqual([
      'tool',
      'tool-b1',
      'tool-b2',
      'user',
    ]);
    expect(fired('[{ field: metadata.input_source, equals: tool }]', events)).toEqual([
      'tool',
      'tool-b1',
      'tool-b2',
    ]);
  });

  it('several predicates: all must hold, in any order', () => {
    const a = '[{ field: metadata.input_source, equals: tool }, { field: metadata.b, equals: 1 }]';
    const b = '[{ field: metadata.b, equals: 1 }, { field: metadata.input_source, equals: tool }]';
    expect(fired(a, events)).toEqual(['tool-b1']);
    expect(fired(b, events)).toEqual(['tool-b1']);
    expect(
      fired('[{ field: metadata.input_source, exists: false }, { field: metadata.b, exists: true }]', events),
    ).toEqual(['b1']);
  });

  it('in: one of the values; not_in: absent or none of them', () => {
    // b is 1, 2 or absent; input_source 'tool', 'user' or absent. '1' (a string) is 1 by its text.
    expect(fired('[{ field: metadata.b, in: [1, 2] }]', events)).toEqual(['b1', 'tool-b1', 'tool-b2']);
    expect(fired("[{ field: metadata.b, in: ['1', 2] }]", events)).toEqual(['b1', 'tool-b1', 'tool-b2']);
    expect(fired("[{ field: metadata.b, in: ['2'] }]", events)).toEqual(['tool-b2']);
    expect(fired('[{ field: metadata.b, not_in: [1] }]', events)).toEqual([
      'none',
      'tool',
      'tool-b2',
      'user',
    ]);
    expect(fired('[{ field: metadata.input_source, not_in: [tool, user] }]', events)).toEqual(['b1', 'none']);
    expect(fired('[{ field: user_id, not_in: [none, b1] }, { field: metadata.b, in: [1] }]', events)).toEqual(
      ['tool-b1'],
    );
    // The tool-mark fields take the generic path for in / not_in.
    expect(fired('[{ field: metadata.input_source, in: [tool] }]', events)).toEqual([
      'tool',
      'tool-b1',
      'tool-b2',
    ]);
  });

  it('in / not_in stand alone and list at least one value', () => {
    for (const bad of [
      '[{ field: metadata.b, in: [1], not_in: [2] }]',
      '[{ field: metadata.b, in: [1], equals: 1 }]',
      '[{ field: metadata.b, not_in: [1], exists: true }]',
      '[{ field: metadata.b, in: [] }]',
      '[{ field: metadata.b, in: 1 }]',
      '[{ field: metadata.b, not_in: [{ a: 1 }] }]',
    ])
      expect(() => rules(bad), bad).toThrow(/where/);
  });

  it('a value that is not a string, finite number or boolean is refused by name', () => {
    // YAML's null, .inf, .nan, lists and maps: before, zod's bare "Invalid input".
    for (const bad of [
      '[{ field: metadata.b, in: [.inf] }]',
      '[{ field: metadata.b, not_in: [a, null] }]',
      '[{ field: metadata.b, in: [.nan] }]',
      '[{ field: metadata.b, in: [[1]] }]',
      '[{ field: metadata.b, equals: .inf }]',
    ])
      expect(() => rules(bad), bad).toThrow(
        /where\.0\.(in|not_in|equals).*want a string, a finite number or true \/ false/,
      );
  });

  it('the tool-mark fields (compiled to one read each) answer as any other metadata key', () => {
    // input_source and block_source have their own predicates (compile.ts toolMarkPredicate);
    // x_source goes through the generic getter. Values of every kind, and absent.
    const values: Array<string | number | undefined> = ['tool', 'user', 'Tool', '', 0, 1, undefined];
    for (const key of ['input_source', 'block_source']) {
      const evs = (k: string) => values.map((v, i) => event(`u${i}`, v === undefined ? {} : { [k]: v }));
      for (const pred of ['exists: false', 'exists: true', 'equals: tool', 'equals: 1', "equals: ''"]) {
        const own = fired(`[{ field: metadata.${key}, ${pred} }]`, evs(key));
        const generic = fired(`[{ field: metadata.x_source, ${pred} }]`, evs('x_source'));
        expect(own, `${key} ${pred}`).toEqual(generic);
        expect(own.length, `${key} ${pred}`).toBeGreaterThan(0);
      }
    }
  });

  it('the named metadata getters outside core model (outcome, error) answer as any other key', () => {
    // fields.ts reads outcome and error (the default request rules' filters) with a property
    // load of their own; x_outcome goes through the generic computed-key getter.
    const values: Array<string | number | boolean | undefined> = [
      'error',
      'rate_limited',
      'ok',
      true,
      'true',
      false,
      0,
      '',
      undefined,
    ];
    const preds = [
      'not_in: [error, rate_limited]',
      'not_in: [true]',
      'in: [error, rate_limited]',
      'in: [true]',
      'exists: false',
      'exists: true',
      'equals: true',
      'equals: error',
    ];
    for (const key of ['outcome', 'error']) {
      const evs = (k: string) => values.map((v, i) => event(`u${i}`, v === undefined ? {} : { [k]: v }));
      for (const pred of preds) {
        const own = fired(`[{ field: metadata.${key}, ${pred} }]`, evs(key));
        const generic = fired(`[{ field: metadata.x_outcome, ${pred} }]`, evs('x_outcome'));
        expect(own, `${key} ${pred}`).toEqual(generic);
        expect(own.length, `${key} ${pred}`).toBeGreaterThan(0);
      }
    }
  });
});
