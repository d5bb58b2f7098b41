import { describe, expect, it } from 'vitest';
import type { RuleDefinition } from '../src/index.ts';
import { ruleStateId, tableTag } from '../src/state/rule-identity.ts';

/**
 * A rule's state id (the key of its shared state): the same for the same rule written another
 * way, or with only its presentation changed; different for anything that changes what its state
 * means, so a changed rule never reads the old definition's state.
 */

const rule: RuleDefinition = {
  id: 'burst',
  title: 'Burst',
  severity: 'alert',
  description: 'Many blocks',
  match: {
    categories: ['guardrail_block', 'jailbreak_attempt'],
    where: [
      { field: 'metadata.input_source', exists: false },
      { field: 'user_id', not_in: ['anonymous'] },
    ],
  },
  group_by: 'user_id',
  window_ms: 600_000,
  condition: { kind: 'count', min: 10 },
};

describe('ruleStateId', () => {
  it('is the same for the same rule written another way or presented differently', () => {
    const same: RuleDefinition[] = [
      {
        ...rule,
        title: 'Another title',
        severity: 'critical',
        description: 'other',
        runbook_url: 'https://x',
      },
      { ...rule, quiet_ms: 600_000 },
      { ...rule, match: { ...rule.match, categories: ['jailbreak_attempt', 'guardrail_block'] } },
      { ...rule, match: { ...rule.match, where: [...rule.match.where!].reverse() } },
      {
        condition: { min: 10, kind: 'count' },
        window_ms: 600_000,
        group_by: 'user_id',
        match: rule.match,
        severity: 'alert',
        title: 'Burst',
        id: 'burst',
      },
    ];
    for (const r of same) expect(ruleStateId(r)).toBe(ruleStateId(rule));
  });

  it('is the same for values the filter and the conditions read alike', () => {
    const where = (w: RuleDefinition['match']['where']): RuleDefinition => ({
      ...rule,
      match: { ...rule.match, where: w },
    });
    // equals: a number or boolean and its text are one value (sameScalar); in / not_in are sets of texts.
    const alike: [RuleDefinition, RuleDefinition][] = [
      [
        where([{ field: 'metadata.status', equals: 429 }]),
        where([{ field: 'metadata.status', equals: '429' }]),
      ],
      [
        where([{ field: 'metadata.tool', equals: true }]),
        where([{ field: 'metadata.tool', equals: 'true' }]),
      ],
      [
        where([{ field: 'metadata.status', in: [500, 'x', 429] }]),
        where([{ field: 'metadata.status', in: ['429', '500', 'x', 'x'] }]),
      ],
      [
        where([{ field: 'user_id', not_in: ['guest', 'anonymous'] }]),
        where([{ field: 'user_id', not_in: ['anonymous', 'guest', 'anonymous'] }]),
      ],
      [
        { ...rule, condition: { kind: 'ratio', min_events: 5, field: 'metadata.blocked', above: 0.5 } },
        {
          ...rule,
          condition: { kind: 'ratio', min_events: 5, field: 'metadata.blocked', above: 0.5, equals: 'true' },
        },
      ],
      [
        {
          ...rule,
          condition: {
            kind: 'baseline',
            sum: ['metadata.a', 'metadata.b'],
            factor: 3,
            sigmas: 3,
            min_samples: 20,
          },
        },
        {
          ...rule,
          condition: {
            kind: 'baseline',
            sum: ['metadata.b', 'metadata.a'],
            factor: 3,
            sigmas: 3,
            min_samples: 20,
          },
        },
      ],
    ];
    for (const [x, y] of alike) expect(ruleStateId(x)).toBe(ruleStateId(y));
  });

  it('differs for anything that changes what the state means', () => {
    const changed: RuleDefinition[] = [
      { ...rule, id: 'burst2' },
      { ...rule, group_by: 'fingerprint' },
      { ...rule, window_ms: 300_000 },
      { ...rule, quiet_ms: 60_000 },
      { ...rule, match: { ...rule.match, categories: ['guardrail_block'] } },
      { ...rule, match: { ...rule.match, where: [{ field: 'user_id', not_in: ['anonymous'] }] } },
      { ...rule, match: { ...rule.match, where: [{ field: 'user_id', not_in: ['anonymous', 'guest'] }] } },
      { ...rule, condition: { kind: 'count', min: 11 } },
      { ...rule, condition: { kind: 'distinct', field: 'fingerprint', min: 10 } },
      // Values that are not one value, and orders that matter.
      { ...rule, match: { ...rule.match, where: [{ field: 'metadata.status', equals: 429 }] } },
      { ...rule, match: { ...rule.match, where: [{ field: 'metadata.status', equals: '0429' }] } },
      { ...rule, match: { ...rule.match, where: [{ field: 'metadata.status', in: [429] }] } },
      { ...rule, condition: { kind: 'ratio', min_events: 5, field: 'metadata.blocked', above: 0.5 } },
      {
        ...rule,
        condition: { kind: 'ratio', min_events: 5, field: 'metadata.blocked', above: 0.5, equals: false },
      },
      // monotonic: the first positive of `value` is the event's value, so the order is meaning.
      {
        ...rule,
        condition: { kind: 'monotonic', value: ['metadata.a', 'metadata.b'], min_events: 3, factor: 2 },
      },
      {
        ...rule,
        condition: { kind: 'monotonic', value: ['metadata.b', 'metadata.a'], min_events: 3, factor: 2 },
      },
      // baseline: a field twice counts twice.
      {
        ...rule,
        condition: { kind: 'baseline', sum: ['metadata.a'], factor: 3, sigmas: 3, min_samples: 20 },
      },
      {
        ...rule,
        condition: {
          kind: 'baseline',
          sum: ['metadata.a', 'metadata.a'],
          factor: 3,
          sigmas: 3,
          min_samples: 20,
        },
      },
    ];
    const ids = changed.map((r) => ruleStateId(r));
    expect(new Set([...ids, ruleStateId(rule)]).size).toBe(changed.length + 1);
  });
});

describe('ruleStateId with engine limits', () => {
  const defaults = { maxDistinctValues: 1_000, maxEventsPerWindow: 1_000 };
  const ratio: RuleDefinition = {
    ...rule,
    condition: { kind: 'ratio', field: 'metadata.blocked', above: 0.5, min_events: 10 },
  };

  it('is the id without limits at the defaults (replicas left at them keep their state)', () => {
    expect(ruleStateId(rule, defaults)).toBe(ruleStateId(rule));
    expect(ruleStateId(ratio, defaults)).toBe(ruleStateId(ratio));
  });

  it('changes with the limits that shape the rule state, and only those', () => {
    // Users per incident: every rule's incident.
    expect(ruleStateId(rule, { ...defaults, maxDistinctValues: 50 })).not.toBe(ruleStateId(rule));
    // The ring cap: a ratio's window, not a count's (it keeps its newest `min` times).
    expect(ruleStateId(ratio, { ...defaults, maxEventsPerWindow: 50 })).not.toBe(ruleStateId(ratio));
    expect(ruleStateId(rule, { ...defaults, maxEventsPerWindow: 50 })).toBe(ruleStateId(rule));
    // The Redis state's pending cap: when every rule's events are processed. Its default, left
    // out or written out, keeps the id.
    expect(ruleStateId(rule, { ...defaults, maxPendingPerGroup: 50 })).not.toBe(ruleStateId(rule));
    expect(ruleStateId(rule, { ...defaults, maxPendingPerGroup: 1_000 })).toBe(ruleStateId(rule));
    expect(ruleStateId(ratio, { ...defaults, maxPendingPerGroup: 50 })).not.toBe(
      ruleStateId(ratio, { ...defaults, maxPendingPerGroup: 51 }),
    );
  });
});

describe('tableTag', () => {
  it('keeps a plain field readable and hashes one that could break or confuse a key', () => {
    expect(tableTag('user_id')).toBe('user_id');
    expect(tableTag('metadata.source_ip')).toBe('metadata.source_ip');
    for (const odd of ['a:b', 'x}y', 'has space', '0', 'm'.repeat(41)]) {
      expect(tableTag(odd)).toMatch(/^#[A-Za-z0-9_-]{16}$/);
    }
    expect(tableTag('a:b')).not.toBe(tableTag('a;b'));
  });
});
