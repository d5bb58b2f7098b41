// The count fix of b727d83 (evidence-users.test.ts) for the other conditions whose evidence is
// several events: a distinct or monotonic rule grouped by something other than the user
// (`group_by: source_ip`) listed alice's, bob's and carol's events as evidence but named only
// carol, whose event fired it, in user_ids (measured through llmsec replay, the same). Found by
// the acceptance sweep. Both fixed: their windows keep a users column when the rule is not
// grouped by user_id (distinct 97dc36c; monotonic's ring, such a rule keeping object states
// rather than the slab's, whose row has no user); evidence-users.test.ts checks them on Redis.
// ratio and identical list only the firing event as evidence, so naming its user alone is
// consistent there.
import { describe, expect, it } from 'vitest';
import type { ConditionDefinition, RuleDefinition } from '../src/index.ts';
import { MIN, recordingEngine, SEC, T0 } from './helpers.ts';

const rule = (condition: ConditionDefinition): RuleDefinition => ({
  id: 'from_one_address',
  title: 'from one address',
  severity: 'alert',
  match: { categories: ['guardrail_block'] },
  group_by: 'source_ip',
  window_ms: 10 * MIN,
  condition,
});

function firing(condition: ConditionDefinition) {
  const { engine, alerts } = recordingEngine({ rules: [rule(condition)] });
  ['alice', 'bob', 'carol'].forEach((user, i) => {
    const t = T0 + i * SEC;
    engine.ingest(
      {
        event_id: `b${i}`,
        timestamp: new Date(t).toISOString(),
        category: 'guardrail_block',
        severity: 'warning',
        user_id: user,
        source_ip: '203.0.113.9',
        metadata: { guardrail_layer: `layer${i}`, prompt_length: 10 * 2 ** i },
      },
      t,
    );
  });
  engine.flush();
  return alerts.find((a) => a.status === 'firing');
}

describe('user_ids of rules grouped by address, beyond count', () => {
  it('distinct: the users of the evidence', () => {
    const alert = firing({ kind: 'distinct', field: 'metadata.guardrail_layer', min: 3 });
    expect(alert?.evidence).toEqual(['b0', 'b1', 'b2']);
    expect([...alert!.user_ids].sort()).toEqual(['alice', 'bob', 'carol']);
  });

  it('monotonic: the users of the evidence', () => {
    const alert = firing({
      kind: 'monotonic',
      value: ['metadata.prompt_length'],
      min_events: 3,
      factor: 1.5,
    });
    expect(alert?.evidence).toEqual(['b0', 'b1', 'b2']);
    expect([...alert!.user_ids].sort()).toEqual(['alice', 'bob', 'carol']);
  });
});
