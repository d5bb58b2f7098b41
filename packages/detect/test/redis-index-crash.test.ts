import type { Cluster, Redis } from 'ioredis';
import { expect } from 'vitest';
import type { Alert } from '@llmsec/core';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { standaloneAndCluster, type TwoClients } from './redis-two-clients.ts';

/**
 * A process that dies (or loses Redis) between writing a group and updating the rule's resolve
 * index: the group is written with a new incident open, the index update after it never lands
 * (simulated by failing the post-write index call; the group and the index are in different
 * slots on a Cluster, so no one script writes both). The incident must still be in the index:
 * another process lists it in openIncidents() and its sweep resolves it on time. Before the fix
 * the index was written only after the group, and such an incident resolved only on a new event
 * of its group, or expired silently.
 */

const LATENESS = 5 * SEC;
const RULE = 'rapid_guardrail_blocks';

function engineOn(
  redis: Redis | Cluster,
  ruleset: string,
): {
  engine: DetectionEngine;
  state: RedisDetectionState;
  alerts: Alert[];
} {
  const alerts: Alert[] = [];
  const state = new RedisDetectionState({ redis, ruleset, commandTimeoutMs: 5_000, shutdownGraceMs: 0 });
  const engine = new DetectionEngine({
    rules: defaultRules(),
    allowedLatenessMs: LATENESS,
    state,
    onAlert: (a) => alerts.push(a),
  });
  return { engine, state, alerts };
}

async function crashAfterGroupWrite(clients: TwoClients, ruleset: string): Promise<void> {
  const dying = engineOn(clients[0], ruleset);
  // Every index update made after the group writes fails: the process is gone at that point.
  dying.state.updateIndex = () => Promise.reject(new Error('process killed after the group write'));
  for (let i = 0; i < 10; i++) {
    const { event, t } = ev({ at: T0 + i * SEC, category: 'guardrail_block', user: 'alice', id: `a${i}` });
    dying.engine.ingest(event, t);
  }
  dying.engine.advanceTo(T0 + 9 * SEC + LATENESS);
  await dying.engine.forceFlush();
  // The group write landed (the dying process fired), then the round failed (and the batch went
  // to its local fallback, which fires again: the documented cost of a degraded episode).
  expect(dying.alerts.filter((a) => a.rule === RULE && a.status === 'firing').length).toBeGreaterThan(0);
  expect(dying.engine.stats.state?.mode).toBe('degraded');

  const other = engineOn(clients[1], ruleset);
  const listed = await other.engine.openIncidents();
  expect(listed.map((a) => [a.rule, a.labels.user_id])).toEqual([[RULE, 'alice']]);
  // Quiet past the rule's quiet period (10 min): the other process's sweep resolves it.
  other.engine.advanceTo(T0 + 9 * SEC + 11 * MIN + LATENESS);
  await other.engine.forceFlush();
  expect(other.alerts.map((a) => [a.rule, a.status, a.labels.user_id])).toEqual([
    [RULE, 'resolved', 'alice'],
  ]);
  expect(await other.engine.openIncidents()).toEqual([]);
  await Promise.all([dying.engine.shutdown(), other.engine.shutdown()]);
}

standaloneAndCluster(
  'RedisDetectionState: a crash between the group write and the index update (the incident is in the resolve index, listed and resolved by another process)',
  'crash',
  crashAfterGroupWrite,
);
