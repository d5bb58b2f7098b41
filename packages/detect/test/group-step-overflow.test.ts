import { describe, expect, it } from 'vitest';
import { compileRule } from '../src/compile.ts';
import { emptyBody, stepGroup, type RuleTable } from '../src/state/group-runner.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';

/**
 * The shared group step and this process's overflow tier: an overflow incident extended by one
 * event of a step stays the group's incident for the step's later events, as in memory, even
 * when a slot of the fleet's cap is free again (nothing moves between the tiers). The tier is
 * read as it was before the step (its extension is applied after the write), so a later event
 * past the tier member's old resolve time but inside the extended quiet period must not open a
 * second incident (a second firing line for the group) in Redis.
 */

const rule = compileRule(
  {
    id: 'blocks',
    title: 'Blocks',
    severity: 'alert',
    match: { categories: ['guardrail_block'] },
    group_by: 'user_id',
    window_ms: MIN,
    condition: { kind: 'count', min: 1 },
  },
  0,
  { maxEventsPerWindow: 1_000, maxDistinctValues: 100 },
);
const table: RuleTable = {
  field: 'user_id',
  index: 0,
  tag: 'user_id',
  rules: [rule],
  sids: ['s0'],
  writer: 'w0',
  indexKeys: ['open:s0'],
  pendingKey: 'pending',
  projectionTag: 'p0',
  projectionFields: [],
  rulePaths: [['user_id']],
  ttlMs: 10 * MIN,
};
const limits = { maxUsersPerAlert: 100, maxPending: 1_000, recentIds: 32 };

describe('stepGroup with an overflow incident of the group', () => {
  it('extends it across its old resolve time instead of opening a second incident', () => {
    // This process holds Mallory's overflow incident, due at R (quiet period 1 min).
    const R = T0 + MIN;
    const tier = {
      live: (ruleId: string, key: string, t: number) => ruleId === 'blocks' && key === 'mallory' && t < R,
    };
    const events = [
      ev({ at: R - 10 * SEC, category: 'guardrail_block', user: 'mallory', id: 'm1' }),
      ev({ at: R + 10 * SEC, category: 'guardrail_block', user: 'mallory', id: 'm2' }),
    ];
    // The index has room (no rule refused): only the overflow tier decides.
    const step = stepGroup(table, emptyBody('mallory'), events, R + 20 * SEC, limits, new Set(), tier);
    expect(step.alerts).toEqual([]);
    expect(Object.keys(step.body.i)).toEqual([]);
    expect(step.overflow.map((run) => run.events.map((e) => e.event.event_id))).toEqual([['m1', 'm2']]);
  });

  it('opens in Redis once the overflow incident is due before the event', () => {
    const R = T0 + MIN;
    const tier = { live: (_r: string, _k: string, t: number) => t < R };
    const events = [ev({ at: R + 10 * SEC, category: 'guardrail_block', user: 'mallory', id: 'm3' })];
    const step = stepGroup(table, emptyBody('mallory'), events, R + 20 * SEC, limits, new Set(), tier);
    expect(step.alerts.map((a) => a.status)).toEqual(['firing']);
    expect(step.overflow).toEqual([]);
  });
});
