// group_by made one group of the number 429 and the string '429' (keyString: alert labels are
// text, so two groups would print one label set, which Alertmanager takes for one alert), while a
// where `equals` / `in` / `not_in` and a ratio's `equals` compared strictly and told them apart:
// a rule grouped by a status and filtered on it counted half of its own group. Values now compare
// by their text everywhere (fields.ts sameScalar / scalarText), in memory, on the slab path and
// on the shared (Redis) state.
import { describe, expect, it } from 'vitest';
import type { Alert, SecurityEvent } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { parseRules } from '../src/rule-loader.ts';
import type { RuleDefinition } from '../src/index.ts';
import { recordingEngine, SEC, T0 } from './helpers.ts';
import { canonical, freshRuleset, memoryAlerts, redisEngine, type Timed } from './redis-support.ts';

const rules = (yaml: string): RuleDefinition[] => parseRules(`rules:\n${yaml}`, 'agreement.yaml');

let seq = 0;
function hit(at: number, user: string, metadata: Record<string, unknown>): Timed {
  const event: SecurityEvent = {
    event_id: `h${++seq}`,
    timestamp: new Date(at).toISOString(),
    category: 'rate_limit_hit',
    severity: 'warning',
    user_id: user,
    metadata: { limit_type: 'rpm', current: 1, limit: 1, ...metadata },
  };
  return { event, t: at };
}

function run(defs: RuleDefinition[], events: Timed[]): Alert[] {
  const { engine, alerts } = recordingEngine({ rules: defs });
  for (const { event, t } of events) engine.ingest(event, t);
  engine.flush();
  return alerts.filter((a) => a.status === 'firing');
}

/** Four hits, a status written as a number by two producers and as a string by two. */
const mixed = (): Timed[] => [
  hit(T0, 'a', { status: 429 }),
  hit(T0 + SEC, 'b', { status: '429' }),
  hit(T0 + 2 * SEC, 'c', { status: 429 }),
  hit(T0 + 3 * SEC, 'd', { status: '429' }),
];

describe('429 and "429": one value for group_by, where, ratio and distinct', () => {
  it('grouped by the status and filtered on it (equals, in), the group counts all four', () => {
    for (const filter of ['equals: 429', "equals: '429'", 'in: [429]', "in: ['429', 503]"]) {
      const alerts = run(
        rules(`  - id: r
    title: r
    severity: alert
    match: { categories: [rate_limit_hit], where: [{ field: metadata.status, ${filter} }] }
    group_by: metadata.status
    window: 1m
    condition: { kind: count, min: 4 }
`),
        mixed(),
      );
      expect(
        alerts.map((a) => a.labels),
        filter,
      ).toEqual([{ metadata_status: '429' }]);
    }
  });

  it('not_in leaves out both forms', () => {
    for (const filter of ['not_in: [429]', "not_in: ['429']"]) {
      const alerts = run(
        rules(`  - id: r
    title: r
    severity: alert
    match: { categories: [rate_limit_hit], where: [{ field: metadata.status, ${filter} }] }
    group_by: metadata.status
    window: 1m
    condition: { kind: count, min: 1 }
`),
        [...mixed(), hit(T0 + 4 * SEC, 'e', { status: 503 })],
      );
      expect(
        alerts.map((a) => a.labels),
        filter,
      ).toEqual([{ metadata_status: '503' }]);
    }
  });

  it('true and "true" are one value: a ratio counts both (object and slab paths alike)', () => {
    // group_by user_id puts the ratio on the slab; a session group keeps it an object condition.
    for (const groupBy of ['user_id', 'session_id']) {
      const events = [true, 'true', true, 'true', false].map((blocked, i) => {
        const timed = hit(T0 + i * SEC, 'u', {});
        timed.event.category = 'request_completed';
        timed.event.session_id = 's';
        timed.event.metadata = { model: 'm', prompt_tokens: 1, completion_tokens: 1, blocked };
        return timed;
      });
      const alerts = run(
        rules(`  - id: r
    title: r
    severity: alert
    match: { categories: [request_completed] }
    group_by: ${groupBy}
    window: 1m
    condition: { kind: ratio, min_events: 5, field: metadata.blocked, above: 0.7 }
`),
        events,
      );
      // 4 of 5 (80%) with both forms; 2 of 5 (40%) if "true" were not true.
      expect(
        alerts.map((a) => a.description),
        groupBy,
      ).toEqual([expect.stringContaining('4 of 5 request_completed events')]);
    }
  });

  it('distinct and cross_group count 429 and "429" as one value, as the group does', () => {
    const alerts = run(
      rules(`  - id: statuses
    title: r
    severity: alert
    match: { categories: [rate_limit_hit] }
    group_by: user_id
    window: 1m
    condition: { kind: distinct, field: metadata.status, min: 2 }
`),
      [hit(T0, 'a', { status: 429 }), hit(T0 + SEC, 'a', { status: '429' })],
    );
    expect(alerts).toEqual([]);
  });
});

describe('on Redis', () => {
  const db = useRedis();

  it('the shared state filters as memory does', async () => {
    const defs = rules(`  - id: r
    title: r
    severity: alert
    match: { categories: [rate_limit_hit], where: [{ field: metadata.status, in: ['429'] }] }
    group_by: metadata.status
    window: 1m
    condition: { kind: count, min: 4 }
`);
    const events = mixed();
    const want = memoryAlerts(defs, events, 0);
    expect(want.map((a) => a.status)).toEqual(['firing']);
    const { engine, alerts } = redisEngine(db.redis, defs, 0, freshRuleset('scalar'));
    for (const { event, t } of events) engine.ingest(event, t);
    engine.flush();
    await engine.shutdown();
    expect(canonical(alerts)).toEqual(canonical(want));
  });
});
