import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { DetectionEngine, RedisDetectionState, type RuleDefinition } from '../src/index.ts';
import type { Alert } from '@llmsec/core';
import { ev, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';

/**
 * The engine limits that shape a rule's stored state (maxDistinctValues: the users an incident
 * keeps; maxEventsPerWindow: the ring of a ratio, cross_group or open monotonic rule) are part
 * of its state id. Replicas configured with other limits stepped one stored state each with
 * their own caps, so the fleet's answer depended on which replica an event reached. Now they
 * share nothing for the rule, as replicas running two definitions of it do; replicas with the
 * same limits (the defaults written out or left out) still share it. The Redis state's
 * maxPendingPerGroup too (past it a group's oldest pending events are processed before the
 * watermark reaches them): it was left out, and a replica with another one shared the state.
 */

const db = useRedis({ clients: 3 });

const rule: RuleDefinition = {
  id: 'ip_burst',
  title: 'Burst from one address',
  severity: 'alert',
  match: { categories: ['guardrail_block'] },
  group_by: 'source_ip',
  window_ms: 600_000,
  condition: { kind: 'count', min: 3 },
};

function engine(client: number, ruleset: string, maxDistinctValues?: number, maxPendingPerGroup?: number) {
  const alerts: Alert[] = [];
  const state = new RedisDetectionState({
    redis: db.clients[client]!,
    ruleset,
    commandTimeoutMs: 5_000,
    shutdownGraceMs: 0,
    ...(maxPendingPerGroup !== undefined ? { maxPendingPerGroup } : {}),
  });
  const e = new DetectionEngine({
    rules: [rule],
    allowedLatenessMs: 0,
    state,
    onAlert: (a) => alerts.push(a),
    ...(maxDistinctValues !== undefined ? { maxDistinctValues } : {}),
  });
  return { engine: e, alerts };
}

async function block(e: DetectionEngine, at: number, user: string): Promise<void> {
  const { event, t } = ev({ at: T0 + at * SEC, category: 'guardrail_block', user });
  event.source_ip = '203.0.113.9';
  e.ingest(event, t);
  await e.forceFlush();
}

describe('engine limits in a rule state id', () => {
  it('keep replicas with other limits out of a rule state, and replicas with the same ones in it', async () => {
    const ruleset = freshRuleset('limits');
    const wide = engine(0, ruleset); // the defaults (maxDistinctValues 1000)
    const narrow = engine(1, ruleset, 2); // two users per incident
    const same = engine(2, ruleset, 1000); // the default written out
    await block(wide.engine, 1, 'u1');
    await block(wide.engine, 2, 'u2');
    // The narrow replica's rule is another state: its one block is not the third.
    await block(narrow.engine, 3, 'u3');
    expect([...wide.alerts, ...narrow.alerts].filter((a) => a.status === 'firing')).toEqual([]);
    // A replica with the default limits shares the wide one's state: its block is the third.
    await block(same.engine, 4, 'u4');
    const firing = [...wide.alerts, ...narrow.alerts, ...same.alerts].filter((a) => a.status === 'firing');
    expect(firing.map((a) => a.user_ids)).toEqual([['u1', 'u2', 'u4']]);
    await Promise.all([wide, narrow, same].map((x) => x.engine.shutdown()));
  });

  it('keep a replica with another maxPendingPerGroup out of a rule state', async () => {
    const ruleset = freshRuleset('pending');
    const wide = engine(0, ruleset); // maxPendingPerGroup at its default (1000)
    const narrow = engine(1, ruleset, undefined, 2);
    const same = engine(2, ruleset, undefined, 1000); // the default written out
    await block(wide.engine, 1, 'u1');
    await block(wide.engine, 2, 'u2');
    await block(narrow.engine, 3, 'u3');
    expect([...wide.alerts, ...narrow.alerts].filter((a) => a.status === 'firing')).toEqual([]);
    await block(same.engine, 4, 'u4');
    const firing = [...wide.alerts, ...narrow.alerts, ...same.alerts].filter((a) => a.status === 'firing');
    expect(firing.map((a) => a.user_ids)).toEqual([['u1', 'u2', 'u4']]);
    await Promise.all([wide, narrow, same].map((x) => x.engine.shutdown()));
  });
});
