import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';

/**
 * maxOpenIncidentsPerRule when a slot frees in the same round as a newcomer needs it: the cap
 * (1) is held by Zed's leak incident; Bob leaks after Zed's incident is due, and both reach the
 * engine in one round (one batch, as in a replay or on a busy replica). The memory engine
 * resolves Zed before Bob's later event and opens Bob's incident. The shared engine sent a
 * round's index removals only after all its group steps, so Bob's admission still found Zed's
 * entry and was refused: a single leak, so no firing line ever.
 */

const LATENESS = 5 * SEC;
const RULE = 'system_prompt_leakage';

const leak = (user: string, at: number) =>
  ev({ at, category: 'system_prompt_leakage', user, id: `${user}-${at}` });

describe('RedisDetectionState: a slot freed in the round a newcomer needs it', () => {
  const db = useRedis();

  it('opens the newcomer whose event comes after the due time, as the memory engine does', async () => {
    const options = { rules: defaultRules(), allowedLatenessMs: LATENESS };
    const shared: Alert[] = [];
    const memory: Alert[] = [];
    const state = new RedisDetectionState({
      redis: db.redis,
      ruleset: freshRuleset('cap-round'),
      commandTimeoutMs: 5_000,
      shutdownGraceMs: 0,
      maxOpenIncidentsPerRule: 1,
    });
    const engine = new DetectionEngine({ ...options, state, onAlert: (a) => shared.push(a) });
    const one = new DetectionEngine({
      ...options,
      maxOpenIncidentsPerRule: 1,
      onAlert: (a) => memory.push(a),
    });
    const zed = leak('zed', T0);
    const bob = leak('bob', T0 + 10 * MIN + 30 * SEC); // Zed's incident is due at T0 + 10 min
    for (const [{ event, t }, end] of [
      [zed, zed.t + LATENESS],
      [bob, bob.t + LATENESS],
    ] as const) {
      engine.ingest(event, t);
      one.ingest(event, t);
      engine.advanceTo(end);
      one.advanceTo(end);
      await engine.forceFlush();
    }
    const lines = (alerts: Alert[]) => alerts.map((a) => `${a.rule}:${a.status}:${a.labels.user_id}`);
    expect(lines(memory)).toEqual([`${RULE}:firing:zed`, `${RULE}:resolved:zed`, `${RULE}:firing:bob`]);
    expect(lines(shared)).toEqual(lines(memory));
    expect(engine.stats.incidentsRefused).toBe(0);
    expect((await engine.openIncidents()).map((a) => a.labels.user_id)).toEqual(['bob']);
    await engine.shutdown();
  });
});
