import { expect } from 'vitest';
import type { Alert } from '@llmsec/core';
import type { Cluster, Redis } from 'ioredis';
import { DetectionEngine, RedisDetectionState } from '../src/index.ts';
import type { RuleDefinition } from '../src/types.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { standaloneAndCluster } from './redis-two-clients.ts';
import { until } from '../../../test/support/until.ts';

/**
 * An incident handed back to Redis after a degraded episode, into a group no step of this
 * release has written, then stepped by a replica of another release (another rule list, in a
 * rolling upgrade): the hand-back stamps its rule list's writer time (GroupBody.x) as a step
 * does, so the other release keeps the incident instead of taking it for a departed rule's and
 * dropping it (it was then neither listed nor ever resolved).
 */

const LATENESS = 5 * SEC;
const rule = (id: string): RuleDefinition => ({
  id,
  title: id,
  severity: 'warning',
  match: { categories: ['guardrail_block'] },
  group_by: 'user_id',
  window_ms: MIN,
  quiet_ms: 10 * MIN,
  condition: { kind: 'single' },
});

function replica(redis: Redis | Cluster, ruleset: string, rules: RuleDefinition[]) {
  const alerts: Alert[] = [];
  const state = new RedisDetectionState({
    redis,
    ruleset,
    commandTimeoutMs: 5_000,
    shutdownGraceMs: 0,
    probeIntervalMs: 20,
  });
  const engine = new DetectionEngine({
    rules,
    allowedLatenessMs: LATENESS,
    state,
    onAlert: (a) => alerts.push(a),
  });
  return { engine, state, alerts };
}

standaloneAndCluster(
  'RedisDetectionState: an incident handed back, then stepped by another release',
  'handback-writer',
  async (clients, ruleset) => {
    const a = replica(clients[0], ruleset, [rule('r0')]);
    const b = replica(clients[1], ruleset, [rule('r1')]);
    const up = { cas: a.state.cas, advanceClock: a.state.advanceClock, ping: a.state.ping };
    const fail = () => Promise.reject(new Error('Redis gone'));
    Object.assign(a.state, { cas: fail, advanceClock: fail, ping: fail });
    const first = ev({ at: T0, category: 'guardrail_block', user: 'dave', id: 'dave-0' });
    a.engine.ingest(first.event, first.t);
    a.engine.advanceTo(T0 + LATENESS);
    await a.engine.forceFlush();
    expect(a.engine.stats.state?.mode).toBe('degraded');
    expect(a.engine.activeIncidents()).toHaveLength(1);

    Object.assign(a.state, up);
    await until(() => a.engine.stats.state?.mode === 'shared', 5_000);
    a.engine.advanceTo(T0 + LATENESS + SEC);
    await a.engine.forceFlush();
    // Handed back: now the fleet's, in dave's stored group.
    expect(a.engine.activeIncidents()).toEqual([]);
    expect((await a.engine.openIncidents()).map((x) => x.rule)).toEqual(['r0']);

    // The other release steps dave's group (its own rule fires there).
    const next = ev({ at: T0 + MIN, category: 'guardrail_block', user: 'dave', id: 'dave-1' });
    b.engine.ingest(next.event, next.t);
    b.engine.advanceTo(T0 + MIN + LATENESS);
    await b.engine.forceFlush();
    expect(b.alerts.map((x) => [x.rule, x.status])).toEqual([['r1', 'firing']]);
    // Release a's incident is still there, and is resolved once when due.
    expect((await a.engine.openIncidents()).map((x) => x.rule)).toEqual(['r0']);
    a.engine.advanceTo(T0 + 11 * MIN + LATENESS);
    await a.engine.forceFlush();
    expect(a.alerts.map((x) => [x.rule, x.status])).toEqual([
      ['r0', 'firing'],
      ['r0', 'resolved'],
    ]);
    await a.engine.shutdown();
    await b.engine.shutdown();
  },
);
