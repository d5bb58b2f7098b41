import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';

/**
 * A refusal at maxOpenIncidentsPerRule when the group's state came from this process's write
 * cache: the first step changed that cached state in place, so the step without the refused
 * incident must start from the stored state again (re-read), not from a state that already
 * holds the batch's events, nor from an empty one. Bob's group is refused in one flush, then
 * gets one more block in each later flush (its state then comes from the cache): the rule
 * still holds for him (11, 12 blocks in the window), so each is refused again, as in memory;
 * a re-step from an empty state would count 1 block, write that, and refuse nothing more.
 * That needs the overflow tier off (maxOverflowIncidentsPerRule 0); with it on, Bob's refused
 * incident fires from the tier and his later blocks extend it without asking the index (as in
 * memory), which the second case checks.
 */

const LATENESS = 5 * SEC;
const RULE = 'rapid_guardrail_blocks';

const blocks = (user: string, from: number, n: number) =>
  Array.from({ length: n }, (_, s) =>
    ev({ at: from + s * SEC, category: 'guardrail_block', user, id: `${user}-${from + s * SEC}` }),
  );

describe('RedisDetectionState: a refusal from a cached group state', () => {
  const db = useRedis();

  it.each([
    // The overflow tier off: each holding event is refused (counted), no firing line for Bob.
    { overflow: 0, expected: [0, 1, 2, 3], bobFires: false },
    // On (the default): Bob's refused incident fires from it once; his later blocks extend it.
    { overflow: undefined, expected: [0, 1, 1, 1], bobFires: true },
  ])('re-steps the stored state: the group keeps its window, as in memory (overflow tier $overflow)', async ({
    overflow,
    expected,
    bobFires,
  }) => {
    const tier = overflow === undefined ? {} : { maxOverflowIncidentsPerRule: overflow };
    const alerts: Alert[] = [];
    const state = new RedisDetectionState({
      redis: db.redis,
      ruleset: freshRuleset('cap-cached'),
      commandTimeoutMs: 5_000,
      shutdownGraceMs: 0,
      maxOpenIncidentsPerRule: 1,
    });
    const engine = new DetectionEngine({
      rules: defaultRules(),
      allowedLatenessMs: LATENESS,
      ...tier,
      state,
      onAlert: (a) => alerts.push(a),
    });
    const memory = new DetectionEngine({
      rules: defaultRules(),
      allowedLatenessMs: LATENESS,
      maxOpenIncidentsPerRule: 1,
      ...tier,
    });
    const flushes = [
      blocks('alice', T0, 10), // opens: the cap (1) is full
      blocks('bob', T0 + 10 * SEC, 10), // holds at his 10th block: refused
      blocks('bob', T0 + 20 * SEC, 1), // 11 in the window, from the cached state: refused
      blocks('bob', T0 + 21 * SEC, 1), // 12: refused
    ];
    const refused: number[] = [];
    for (const flush of flushes) {
      for (const { event, t } of flush) {
        engine.ingest(event, t);
        memory.ingest(event, t);
      }
      const end = flush[flush.length - 1]!.t + LATENESS;
      engine.advanceTo(end);
      memory.advanceTo(end);
      await engine.forceFlush();
      refused.push(engine.stats.incidentsRefused);
      expect(engine.stats.incidentsRefused).toBe(memory.stats.incidentsRefused);
    }
    expect(refused).toEqual(expected);
    expect(engine.stats.state?.mode).toBe('shared');
    expect(engine.stats.state?.duplicates).toBe(0);
    expect(engine.stats.droppedLate).toBe(0);
    expect(alerts.map((a) => [a.rule, a.status, a.labels.user_id])).toEqual([
      [RULE, 'firing', 'alice'],
      ...(bobFires ? [[RULE, 'firing', 'bob']] : []),
    ]);
    await engine.shutdown();
  });
});
