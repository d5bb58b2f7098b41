import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';

/**
 * Shared mode's overflow tier in event-time order. Mallory's and Trudy's overflow incidents are
 * extended in one round, Trudy's block first and Mallory's older one after it (within the
 * lateness): the round applies them in that order. Kept in that (arrival) order, the tier put
 * Mallory's incident behind Trudy's, and the sweep, which stops at the first member not due,
 * left hers firing past her due time until Trudy's came due too. Placed by lastTrueAt, hers
 * resolves in the first round past her due time, as in memory.
 */

const LATENESS = 5 * SEC;
const RULE = 'rapid_guardrail_blocks';

const blocks = (user: string, from: number, n: number) =>
  Array.from({ length: n }, (_, s) =>
    ev({ at: from + s * SEC, category: 'guardrail_block', user, id: `${user}-${from + s * SEC}` }),
  );

describe('RedisDetectionState: overflow incidents extended out of event-time order', () => {
  const db = useRedis();

  it('each resolves in the first round past its own due time', async () => {
    const alerts: Alert[] = [];
    const state = new RedisDetectionState({
      redis: db.redis,
      ruleset: freshRuleset('overflow-order'),
      commandTimeoutMs: 5_000,
      shutdownGraceMs: 0,
      maxOpenIncidentsPerRule: 2,
    });
    const engine = new DetectionEngine({
      rules: defaultRules(),
      allowedLatenessMs: LATENESS,
      state,
      onAlert: (a) => alerts.push(a),
    });
    const lines = (user: string) =>
      alerts.filter((a) => a.rule === RULE && a.labels.user_id === user).map((a) => a.status);
    const send = async (events: ReturnType<typeof blocks>, upTo: number) => {
      for (const { event, t } of events) engine.ingest(event, t);
      engine.advanceTo(upTo);
      await engine.forceFlush();
    };
    const [alice, bob] = [blocks('alice', T0, 10), blocks('bob', T0, 10)];
    await send(
      alice.flatMap((e, i) => [e, bob[i]!]),
      T0 + 9 * SEC + LATENESS,
    );
    const [mallory, trudy] = [blocks('mallory', T0 + 30 * SEC, 10), blocks('trudy', T0 + 30 * SEC, 10)];
    await send(
      mallory.flatMap((e, i) => [e, trudy[i]!]),
      T0 + 39 * SEC + LATENESS,
    );
    expect(lines('mallory')).toEqual(['firing']);
    expect(lines('trudy')).toEqual(['firing']);
    // One round: Trudy's block at 100 s, then Mallory's at 96 s (4 s late, within the lateness).
    const late = [
      ev({ at: T0 + 100 * SEC, category: 'guardrail_block', user: 'trudy', id: 'trudy-100' }),
      ev({ at: T0 + 96 * SEC, category: 'guardrail_block', user: 'mallory', id: 'mallory-96' }),
    ];
    await send(late, T0 + 100 * SEC + LATENESS);
    // Past Mallory's due time (96 s + 10 min), before Trudy's (100 s + 10 min).
    await send([], T0 + 98 * SEC + 10 * MIN + LATENESS);
    expect(lines('mallory')).toEqual(['firing', 'resolved']);
    expect(lines('trudy')).toEqual(['firing']);
    const resolved = alerts.find((a) => a.labels.user_id === 'mallory' && a.status === 'resolved')!;
    expect(Date.parse(resolved.ends_at!)).toBe(T0 + 96 * SEC + 10 * MIN);
    await send([], T0 + 30 * MIN);
    expect(lines('trudy')).toEqual(['firing', 'resolved']);
    await engine.shutdown();
  });
});
