import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';

/**
 * Shared mode, this process's overflow tier full: its quiet-longest member is resolved early
 * (a resolved line ending when the newcomer's run began, overflowResolvedEarly), the newcomer
 * fires, and every firing line gets exactly one resolved line, as in memory. No test of the
 * shared tier filled it before: SharedOverflow.apply's early resolution could go silent.
 */

const LATENESS = 5 * SEC;
const RULE = 'rapid_guardrail_blocks';

const blocks = (user: string, from: number, n: number) =>
  Array.from({ length: n }, (_, s) =>
    ev({ at: from + s * SEC, category: 'guardrail_block', user, id: `${user}-${from + s * SEC}` }),
  );

describe('RedisDetectionState: a full overflow tier', () => {
  const db = useRedis();

  it('resolves its quiet-longest member early, with a resolved line ending then', async () => {
    const alerts: Alert[] = [];
    const state = new RedisDetectionState({
      redis: db.redis,
      ruleset: freshRuleset('overflow-churn'),
      commandTimeoutMs: 5_000,
      shutdownGraceMs: 0,
      maxOpenIncidentsPerRule: 2,
    });
    const engine = new DetectionEngine({
      rules: defaultRules(),
      allowedLatenessMs: LATENESS,
      state,
      maxOverflowIncidentsPerRule: 1,
      onAlert: (a) => alerts.push(a),
    });
    const lines = (user: string) =>
      alerts.filter((a) => a.rule === RULE && a.labels.user_id === user).map((a) => a.status);
    const send = async (events: ReturnType<typeof blocks>) => {
      for (const { event, t } of events) engine.ingest(event, t);
      engine.advanceTo(events.at(-1)!.t + LATENESS);
      await engine.forceFlush();
    };
    const [alice, bob] = [blocks('alice', T0, 10), blocks('bob', T0, 10)];
    await send(alice.flatMap((e, i) => [e, bob[i]!]));
    await send(blocks('mallory', T0 + 30 * SEC, 10));
    expect(lines('mallory')).toEqual(['firing']);
    await send(blocks('trudy', T0 + 60 * SEC, 10));
    // The tier holds one: Mallory's incident made room for Trudy's, resolved when hers opened.
    expect(lines('mallory')).toEqual(['firing', 'resolved']);
    expect(lines('trudy')).toEqual(['firing']);
    const early = alerts.find((a) => a.labels.user_id === 'mallory' && a.status === 'resolved')!;
    expect(Date.parse(early.ends_at!)).toBe(T0 + 69 * SEC);
    expect(engine.stats.overflowResolvedEarly).toBe(1);
    expect(engine.stats.incidentsRefused).toBe(2);
    expect(engine.activeIncidents().map((a) => a.labels.user_id)).toEqual(['trudy']);
    engine.advanceTo(T0 + 30 * MIN);
    await engine.forceFlush();
    for (const user of ['alice', 'bob', 'mallory', 'trudy'])
      expect(lines(user)).toEqual(['firing', 'resolved']);
    expect(engine.stats.alertsFired).toBe(4);
    expect(engine.stats.alertsResolved).toBe(4);
    await engine.shutdown();
  });
});
