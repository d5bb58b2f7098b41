import { describe, expect, it } from 'vitest';
import { compileRule } from '../src/compile.ts';
import { emptyBody, stepGroup, type RuleTable } from '../src/state/group-runner.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';

/**
 * A group step by a process that does not run every rule stored in the group (a replica of
 * another release during a rolling upgrade): it keeps the other rules' condition states and open
 * incidents for the processes that run them while another writer's time (x) has not passed,
 * then drops them, so a rule no replica runs any more does not stay in a busy group.
 */

const rule = compileRule(
  {
    id: 'blocks',
    title: 'Blocks',
    severity: 'alert',
    match: { categories: ['guardrail_block'] },
    group_by: 'user_id',
    window_ms: MIN,
    condition: { kind: 'count', min: 100 },
  },
  0,
  { maxEventsPerWindow: 1_000, maxDistinctValues: 100 },
);
const TTL = 5 * MIN;
const table: RuleTable = {
  field: 'user_id',
  index: 0,
  tag: 'user_id',
  rules: [rule],
  sids: ['mine'],
  writer: 'mine-w',
  indexKeys: ['open:mine'],
  pendingKey: 'pending',
  projectionTag: 'p0',
  projectionFields: [],
  rulePaths: [['user_id']],
  ttlMs: TTL,
};
const limits = { maxUsersPerAlert: 100, maxPending: 1_000, recentIds: 32 };

/** A group holding another release's rule (its condition state and an open incident), whose writer's time is T0 + 2 min. */
function withForeign(writerTime: unknown = T0 + 2 * MIN) {
  const body = emptyBody('alice');
  const incident = { s: T0, l: T0, d: 'theirs', e: ['x1'], x: 'x1', tr: [], u: ['alice'] };
  body.s.theirs = { any: 'state' };
  body.i.theirs = incident as never;
  body.x['their-w'] = writerTime as number;
  return { body, incident };
}

describe('stepGroup and the rules of another release', () => {
  it('keeps their state and open incidents until their time, stamps its own rules’ time', () => {
    const { body, incident } = withForeign();
    const { event, t } = ev({ at: T0 + MIN, category: 'guardrail_block', user: 'alice' });
    const step = stepGroup(table, body, [{ t, event }], T0 + MIN, limits);
    expect(step.changed).toBe(true);
    expect(step.alerts).toEqual([]);
    expect(body.s.theirs).toEqual({ any: 'state' });
    expect(body.i.theirs).toEqual(incident);
    expect(body.s.mine).toBeDefined();
    expect(body.x).toEqual({ 'their-w': T0 + 2 * MIN, 'mine-w': T0 + MIN + TTL });
  });

  it('drops them once the group’s time has passed theirs', () => {
    const { body } = withForeign();
    const { event, t } = ev({ at: T0 + 3 * MIN, category: 'guardrail_block', user: 'alice' });
    stepGroup(table, body, [{ t, event }], T0 + 3 * MIN + SEC, limits);
    expect(Object.keys(body.s)).toEqual(['mine']);
    expect(body.i).toEqual({});
    expect(Object.keys(body.x)).toEqual(['mine-w']);
  });

  it('drops them when the other writer’s time is not a time (damaged)', () => {
    // Infinity too: it never passes, so a departed rule's state would ride in a busy group for good.
    for (const bad of ['soon', null, Number.NaN, Number.POSITIVE_INFINITY]) {
      const { body } = withForeign(bad);
      const { event, t } = ev({ at: T0 + MIN, category: 'guardrail_block', user: 'alice' });
      stepGroup(table, body, [{ t, event }], T0 + MIN, limits);
      expect(Object.keys(body.s)).toEqual(['mine']);
      expect(body.i).toEqual({});
      expect(Object.keys(body.x)).toEqual(['mine-w']);
    }
  });
});
