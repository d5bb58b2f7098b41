import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, DetectionEngine, RedisDetectionState, type CodeRule } from '../src/index.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';

/**
 * A replica leaving the fleet resolves the incidents of its in-memory engines (code rules run in
 * each process): edge cases of that resolution (redis-overflow-stop.test.ts has the main ones).
 * - An incident already due by the time the replica leaves at (the fleet's newest time, which
 *   another replica may have moved past this one's) ends at its due time, as in memory, not at
 *   the leaving time (which overstated it by up to the fleet's lead).
 * - An event the code-rule engine takes while shutdown() waits for the final round (the grace
 *   for replicas stopping together) is processed before the resolution: before, it opened an
 *   incident after it, a firing line with no resolved line.
 */

const LATENESS = 5 * SEC;

const codeRule: CodeRule = {
  id: 'code_leak',
  title: 'any leak (code rule)',
  severity: 'critical',
  categories: ['system_prompt_leakage'],
  window_ms: MIN,
  condition: { createState: () => null, update: () => true, describe: () => 'a leak' },
};

describe('RedisDetectionState: a replica leaving, its code rules’ incidents', () => {
  const db = useRedis({ clients: 2 });

  function engineOn(client: number, ruleset: string, shutdownGraceMs = 0) {
    const alerts: Alert[] = [];
    const state = new RedisDetectionState({
      redis: db.clients[client]!,
      ruleset,
      commandTimeoutMs: 5_000,
      shutdownGraceMs,
    });
    const engine = new DetectionEngine({
      rules: [...defaultRules(), codeRule],
      allowedLatenessMs: LATENESS,
      state,
      onAlert: (a) => alerts.push(a),
    });
    const of = (user: string) =>
      alerts.filter((a) => a.rule === codeRule.id && a.labels.user_id === user);
    return { engine, alerts, of };
  }

  it('an incident due before the fleet time it leaves at ends at its due time', async () => {
    const ruleset = freshRuleset('leave-due');
    const a = engineOn(0, ruleset);
    const b = engineOn(1, ruleset);
    const leak = ev({ at: T0, category: 'system_prompt_leakage', user: 'carol', id: 'carol-leak' });
    a.engine.ingest(leak.event, leak.t);
    await a.engine.forceFlush();
    // The fleet goes on through b: ten minutes later in event time.
    const later = ev({ at: T0 + 10 * MIN, category: 'guardrail_block', user: 'zed', id: 'zed-1' });
    b.engine.ingest(later.event, later.t);
    await b.engine.forceFlush();
    await a.engine.shutdown();
    expect(a.of('carol').map((x) => x.status)).toEqual(['firing', 'resolved']);
    const resolved = a.of('carol')[1]!;
    // Quiet since T0: due at T0 + 1 min, which the fleet's time passed.
    expect(Date.parse(resolved.ends_at!)).toBe(T0 + MIN);
    await b.engine.shutdown();
  });

  it('an event taken during the shutdown grace is processed before the resolution', async () => {
    const ruleset = freshRuleset('leave-grace');
    // A grace long enough to ingest during it: this process leaves events pending in Redis.
    const a = engineOn(0, ruleset, 1_000);
    const block = ev({ at: T0, category: 'guardrail_block', user: 'bob', id: 'bob-1' });
    a.engine.ingest(block.event, block.t);
    await a.engine.forceFlush();
    const stopping = a.engine.shutdown();
    await new Promise((r) => setTimeout(r, 100));
    const leak = ev({ at: T0 + SEC, category: 'system_prompt_leakage', user: 'eve', id: 'eve-leak' });
    a.engine.ingest(leak.event, leak.t);
    await stopping;
    // Every firing line of the code rule has its resolved line (the process left).
    expect(a.of('eve').map((x) => x.status)).toEqual(['firing', 'resolved']);
    expect(a.engine.activeIncidents()).toEqual([]);
  });
});
