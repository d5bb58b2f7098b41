// A rule grouped by something other than the user (here `group_by: source_ip`, "blocks from one
// address") whose condition is not cross_group: the firing line's user_ids should be the users
// of its evidence (docs/formats.md: "every user implicated"; Condition.users in types.ts:
// "default: the users of the evidence events"). They were not: count kept no user per window
// entry, so the firing line named only the user of the event that fired it, and the resolved
// line added the users who joined later, never the ones whose events opened the incident, though
// both lines list those events as evidence. Fleet enforcement acts on user_ids, so the accounts
// that opened it went untouched. Found by the acceptance sweep (ef6df03, it.fails). Fixed: count
// keeps the user column (RingLayout `users: true`) when its rule is not grouped by user_id, so
// ringEvidence hands openIncident each evidence event's user, in memory and on Redis (a window
// stored without the column by an earlier version reads back and names the trigger, as before).
import { describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { compileRule } from '../src/compile.ts';
import { openIncident } from '../src/incident.ts';
import type { RuleDefinition } from '../src/index.ts';
import { Ring, RingLayout } from '../src/ring.ts';
import { decodeState, encodeState } from '../src/state/codec.ts';
import { MIN, recordingEngine, SEC, T0 } from './helpers.ts';
import { canonical, freshRuleset, memoryAlerts, redisEngine } from './redis-support.ts';

const rule: RuleDefinition = {
  id: 'blocks_from_one_address',
  title: 'blocks from one address',
  severity: 'alert',
  match: { categories: ['guardrail_block'] },
  group_by: 'source_ip',
  window_ms: 10 * MIN,
  condition: { kind: 'count', min: 3 },
};

describe('user_ids of a count rule grouped by address', () => {
  it('names the users of the evidence on the firing line', () => {
    const { engine, alerts } = recordingEngine({ rules: [rule] });
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
        },
        t,
      );
    });
    engine.flush();
    const firing = alerts.find((a) => a.status === 'firing');
    expect(firing?.evidence).toEqual(['b0', 'b1', 'b2']);
    expect([...firing!.user_ids].sort()).toEqual(['alice', 'bob', 'carol']); // today: ['carol']
  });
});

describe('on Redis', () => {
  const db = useRedis();

  it('the shared state names the same users as memory', async () => {
    const events = ['alice', 'bob', 'carol', 'dave'].map((user, i) => {
      const t = T0 + i * SEC;
      const event: SecurityEvent = {
        event_id: `r${i}`,
        timestamp: new Date(t).toISOString(),
        category: 'guardrail_block',
        severity: 'warning',
        user_id: user,
        source_ip: '203.0.113.10',
      };
      return { event, t };
    });
    const want = memoryAlerts([rule], events, 0);
    expect([...want.find((a) => a.status === 'firing')!.user_ids].sort()).toEqual(['alice', 'bob', 'carol']);
    const { engine, alerts } = redisEngine(db.redis, [rule], 0, freshRuleset('evusers'));
    for (const { event, t } of events) engine.ingest(event, t);
    engine.flush();
    await engine.shutdown();
    expect(canonical(alerts)).toEqual(canonical(want));
  });

  it('distinct: the shared state names the same users as memory', async () => {
    const distinct: RuleDefinition = {
      ...rule,
      id: 'layers_from_one_address',
      condition: { kind: 'distinct', field: 'metadata.guardrail_layer', min: 3 },
    };
    const events = ['alice', 'bob', 'carol', 'dave'].map((user, i) => {
      const t = T0 + i * SEC;
      const event: SecurityEvent = {
        event_id: `q${i}`,
        timestamp: new Date(t).toISOString(),
        category: 'guardrail_block',
        severity: 'warning',
        user_id: user,
        source_ip: '203.0.113.12',
        metadata: { guardrail_layer: `layer${i % 3}`, block_reason: 'x' },
      };
      return { event, t };
    });
    const want = memoryAlerts([distinct], events, 0);
    expect([...want.find((a) => a.status === 'firing')!.user_ids].sort()).toEqual(['alice', 'bob', 'carol']);
    const { engine, alerts } = redisEngine(db.redis, [distinct], 0, freshRuleset('evusers-d'));
    for (const { event, t } of events) engine.ingest(event, t);
    engine.flush();
    await engine.shutdown();
    expect(canonical(alerts)).toEqual(canonical(want));
  });

  it('monotonic: the shared state names the same users as memory', async () => {
    const monotonic: RuleDefinition = {
      ...rule,
      id: 'growing_from_one_address',
      condition: { kind: 'monotonic', value: ['metadata.prompt_length'], min_events: 3, factor: 1.5 },
    };
    const events = ['alice', 'bob', 'carol', 'dave'].map((user, i) => {
      const t = T0 + i * SEC;
      const event: SecurityEvent = {
        event_id: `m${i}`,
        timestamp: new Date(t).toISOString(),
        category: 'guardrail_block',
        severity: 'warning',
        user_id: user,
        source_ip: '203.0.113.13',
        metadata: { prompt_length: 10 * 2 ** i },
      };
      return { event, t };
    });
    const want = memoryAlerts([monotonic], events, 0);
    expect([...want.find((a) => a.status === 'firing')!.user_ids].sort()).toEqual(['alice', 'bob', 'carol']);
    const { engine, alerts } = redisEngine(db.redis, [monotonic], 0, freshRuleset('evusers-m'));
    for (const { event, t } of events) engine.ingest(event, t);
    engine.flush();
    await engine.shutdown();
    expect(canonical(alerts)).toEqual(canonical(want));
  });
});

describe('a window stored by an earlier version (no user column)', () => {
  it('reads back, goes on, and names the trigger as before', () => {
    const compiled = compileRule(rule, 0, { maxEventsPerWindow: 100, maxDistinctValues: 100 });
    const old = new Ring(new RingLayout(3, { traces: true }));
    old.push(T0, 'o0', undefined, 0);
    old.push(T0 + SEC, 'o1', undefined, 0);
    const state = decodeState<Ring>(encodeState(old));
    const event: SecurityEvent = {
      event_id: 'o2',
      timestamp: new Date(T0 + 2 * SEC).toISOString(),
      category: 'guardrail_block',
      severity: 'warning',
      user_id: 'carol',
      source_ip: '203.0.113.9',
    };
    expect(compiled.condition.update(state, event, T0 + 2 * SEC)).toBe(true);
    const alert = openIncident(compiled, '203.0.113.9', state, event, T0 + 2 * SEC, 100).toAlert(
      'firing',
      event,
    );
    expect(alert.evidence).toEqual(['o0', 'o1', 'o2']);
    expect(alert.user_ids).toEqual(['carol']);
  });
});

describe('distinct grouped by address', () => {
  const distinct: RuleDefinition = {
    ...rule,
    id: 'layers_from_one_address',
    condition: { kind: 'distinct', field: 'metadata.guardrail_layer', min: 3 },
  };
  const block = (i: number, user: string): SecurityEvent => ({
    event_id: `d${i}`,
    timestamp: new Date(T0 + i * SEC).toISOString(),
    category: 'guardrail_block',
    severity: 'warning',
    user_id: user,
    source_ip: '203.0.113.11',
    metadata: { guardrail_layer: `layer${i}`, block_reason: 'x' },
  });

  it('a state stored without the users column (an earlier version) reads back and goes on', () => {
    const compiled = compileRule(distinct, 0, { maxEventsPerWindow: 100, maxDistinctValues: 100 });
    const old = {
      values: ['layer0', 'layer1'],
      times: [T0, T0 + SEC],
      ids: ['d0', 'd1'],
      traces: [null, null],
    };
    const state = decodeState<unknown>(JSON.stringify(old));
    const event = block(2, 'carol');
    expect(compiled.condition.update(state, event, T0 + 2 * SEC)).toBe(true);
    const alert = openIncident(compiled, '203.0.113.11', state, event, T0 + 2 * SEC, 100).toAlert(
      'firing',
      event,
    );
    expect(alert.evidence).toEqual(['d0', 'd1', 'd2']);
    expect(alert.user_ids).toEqual(['carol']);
  });
});
