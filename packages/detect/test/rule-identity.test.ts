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
    ];
    const ids = changed.map(ruleStateId);
    expect(new Set([...ids, ruleStateId(rule)]).size).toBe(changed.length + 1);
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
