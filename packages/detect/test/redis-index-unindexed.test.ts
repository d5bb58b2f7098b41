import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, SEC, T0 } from './helpers.ts';
import { freshRuleset, ruleIndexKey } from './redis-support.ts';

/**
 * A replica of a version before 0dfdd80 on the same Redis adds to a rule's resolve index
 * without the cap check and evicts the soonest due past it: an incident a new replica opened
 * can be left open in its group but missing from a full index. The new replica, stepping that
 * group again, puts the entry back when there is room, and counts it in stats.state.unindexed
 * when there is none (README, rolling upgrade). The old replica's writes are made here by hand.
 */

const LATENESS = 5 * SEC;
const RULE = 'rapid_guardrail_blocks';

const blocks = (user: string, from: number, n: number) =>
  Array.from({ length: n }, (_, s) =>
    ev({ at: from + s * SEC, category: 'guardrail_block', user, id: `${user}-${from + s * SEC}` }),
  );

describe('RedisDetectionState: an open incident an older replica evicted from the index', () => {
  const db = useRedis();

  it('is counted as unindexed while the index is full, and indexed again once there is room', async () => {
    const ruleset = freshRuleset('unindexed');
    const alerts: Alert[] = [];
    const state = new RedisDetectionState({
      redis: db.redis,
      ruleset,
      commandTimeoutMs: 5_000,
      shutdownGraceMs: 0,
      maxOpenIncidentsPerRule: 1,
    });
    const engine = new DetectionEngine({
      rules: defaultRules(),
      allowedLatenessMs: LATENESS,
      state,
      onAlert: (a) => alerts.push(a),
    });
    const send = async (events: ReturnType<typeof blocks>) => {
      for (const { event, t } of events) engine.ingest(event, t);
      engine.advanceTo(events[events.length - 1]!.t + LATENESS);
      await engine.forceFlush();
    };
    const index = ruleIndexKey(state, ruleset, defaultRules()[0]!);
    const alice = state.groupKey(ruleset, 'user_id', 'alice');
    await send(blocks('alice', T0, 10));
    expect(await db.redis.zrange(index, 0, -1)).toEqual([alice]);

    // The older replica: its own incident pushed Alice's entry out (soonest due past the cap).
    await db.redis.zrem(index, alice);
    await db.redis.zadd(index, T0 + 30 * 60 * SEC, 'older-replica-group');
    await send(blocks('alice', T0 + 10 * SEC, 2));
    expect(engine.stats.state?.unindexed).toBe(1);
    expect(await db.redis.zrange(index, 0, -1)).toEqual(['older-replica-group']);
    expect(alerts.map((a) => [a.rule, a.status])).toEqual([[RULE, 'firing']]);

    // Room again: Alice's next step puts her open incident back, and it is listed.
    await db.redis.zrem(index, 'older-replica-group');
    await send(blocks('alice', T0 + 12 * SEC, 1));
    expect(engine.stats.state?.unindexed).toBe(1);
    expect(await db.redis.zrange(index, 0, -1)).toEqual([alice]);
    expect((await engine.openIncidents()).map((a) => a.labels.user_id)).toEqual(['alice']);
    expect(alerts).toHaveLength(1);
    await engine.shutdown();
  });
});
