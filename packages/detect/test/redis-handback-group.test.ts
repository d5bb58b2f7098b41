import { expect } from 'vitest';
import type { Alert } from '@llmsec/core';
import type { Cluster, Redis } from 'ioredis';
import { DetectionEngine, RedisDetectionState } from '../src/index.ts';
import type { RuleDefinition } from '../src/types.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { standaloneAndCluster } from './redis-two-clients.ts';
import { until } from '../../../test/support/until.ts';

/**
 * One group with many incidents opened while Redis was unreachable (an attacker tripping most
 * rules grouped by user_id at once): rules of one group-by share the group's stored state, so
 * their hand-backs wrote the same Redis key. Moved concurrently, one per incident, they
 * conflicted, and after five lost compare-and-sets an incident stayed local, so the group's
 * attack going on through Redis opened a second incident of that rule (the duplicate the
 * hand-back is for). All of a group's incidents now move in one write.
 */

const LATENESS = 5 * SEC;
const RULES = 8;
const rules: RuleDefinition[] = Array.from({ length: RULES }, (_, k) => ({
  id: `r${k}`,
  title: `r${k}`,
  severity: 'warning',
  match: { categories: ['guardrail_block'] },
  group_by: 'user_id',
  window_ms: MIN,
  quiet_ms: 10 * MIN,
  condition: { kind: 'single' },
}));

function replica(redis: Redis | Cluster, ruleset: string) {
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
  'RedisDetectionState: a group with many incidents opened while degraded is handed back whole',
  'handback-group',
  async (clients, ruleset) => {
    const a = replica(clients[0], ruleset);
    const b = replica(clients[1], ruleset);
    const up = { cas: a.state.cas, advanceClock: a.state.advanceClock, ping: a.state.ping };
    const fail = () => Promise.reject(new Error('Redis gone'));
    Object.assign(a.state, { cas: fail, advanceClock: fail, ping: fail });
    const first = ev({ at: T0, category: 'guardrail_block', user: 'dave', id: 'dave-0' });
    a.engine.ingest(first.event, first.t);
    a.engine.advanceTo(T0 + LATENESS);
    await a.engine.forceFlush();
    expect(a.engine.stats.state?.mode).toBe('degraded');
    expect(a.engine.activeIncidents()).toHaveLength(RULES);

    Object.assign(a.state, up);
    await until(() => a.engine.stats.state?.mode === 'shared', 5_000);
    // Dave goes on, through Redis: each rule's one incident is extended, none opened again.
    const next = ev({ at: T0 + MIN, category: 'guardrail_block', user: 'dave', id: 'dave-1' });
    a.engine.ingest(next.event, next.t);
    a.engine.advanceTo(T0 + MIN + LATENESS);
    await a.engine.forceFlush();
    expect(a.engine.activeIncidents()).toEqual([]);
    expect(await b.engine.openIncidents()).toHaveLength(RULES);

    await a.engine.shutdown();
    b.engine.advanceTo(T0 + 30 * MIN);
    await b.engine.forceFlush();
    await b.engine.shutdown();
    for (const { id } of rules) {
      const lines = [...a.alerts, ...b.alerts].filter((x) => x.rule === id);
      expect(
        lines.map((x) => x.status),
        id,
      ).toEqual(['firing', 'resolved']);
      expect(lines[1]!.alert_id).toBe(lines[0]!.alert_id);
      // Extended by dave's event after the return: resolved a quiet period after it.
      expect(lines[1]!.ends_at).toBe(new Date(T0 + MIN + 10 * MIN).toISOString());
    }
  },
);
