import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import type { Redis } from 'ioredis';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { freshRuleset, ruleIndexKey } from './redis-support.ts';

/**
 * The other half of "index before group" (0ea9a77): a process admits an incident to the
 * resolve index and dies (or loses Redis) before its group write lands. The entry names a
 * group without that incident. It must not be listed as open, it holds one slot of the rule's
 * cap until it is due (a newcomer meanwhile is refused at a full cap), and the sweep of
 * another process drops it when due, after which a newcomer opens. (The overflow tier is off
 * here, maxOverflowIncidentsPerRule 0: with it Bob's refused incident would fire from it and
 * his later blocks extend that, which redis-incident-overflow.test.ts covers.)
 */

const LATENESS = 5 * SEC;
const RULE = 'rapid_guardrail_blocks';

function engineOn(redis: Redis, ruleset: string) {
  const alerts: Alert[] = [];
  const state = new RedisDetectionState({
    redis,
    ruleset,
    commandTimeoutMs: 5_000,
    shutdownGraceMs: 0,
    maxOpenIncidentsPerRule: 1,
  });
  const engine = new DetectionEngine({
    rules: defaultRules(),
    allowedLatenessMs: LATENESS,
    maxOverflowIncidentsPerRule: 0,
    state,
    onAlert: (a) => alerts.push(a),
  });
  return { engine, state, alerts };
}

const blocks = (user: string, from: number) =>
  Array.from({ length: 10 }, (_, s) =>
    ev({ at: from + s * SEC, category: 'guardrail_block', user, id: `${user}-${from + s * SEC}` }),
  );

describe('RedisDetectionState: an admission whose group write never lands', () => {
  const db = useRedis({ clients: 2 });

  it('is not listed, holds its slot until due, and is dropped by the sweep', async () => {
    const ruleset = freshRuleset('ghost');
    const dying = engineOn(db.clients[0]!, ruleset);
    // Every group write fails (reads, cas with expected -1 and an empty body, still answer).
    const cas = dying.state.cas.bind(dying.state);
    dying.state.cas = (key, expected, body, ttlMs) =>
      body === '' ? cas(key, expected, body, ttlMs) : Promise.reject(new Error('killed before the write'));
    for (const { event, t } of blocks('alice', T0)) dying.engine.ingest(event, t);
    dying.engine.advanceTo(T0 + 9 * SEC + LATENESS);
    await dying.engine.forceFlush();
    expect(dying.engine.stats.state?.mode).toBe('degraded');
    const index = ruleIndexKey(dying.state, ruleset, defaultRules()[0]!);
    expect(await db.redis.zcard(index)).toBe(1);

    const other = engineOn(db.clients[1]!, ruleset);
    expect(await other.engine.openIncidents()).toEqual([]);
    // The cap (1) is held by the entry: Bob's incident is refused while it is not due.
    for (const { event, t } of blocks('bob', T0 + 20 * SEC)) other.engine.ingest(event, t);
    other.engine.advanceTo(T0 + 29 * SEC + LATENESS);
    await other.engine.forceFlush();
    expect(other.engine.stats.incidentsRefused).toBe(1);
    expect(other.alerts).toEqual([]);

    // Past Alice's would-be resolve time (T0 + 9 s + 10 min): the sweep drops the entry (at the
    // end of its round, so a newcomer in that same round would still be refused), and Bob,
    // holding again afterwards, opens.
    other.engine.advanceTo(T0 + 10 * MIN + 15 * SEC);
    await other.engine.forceFlush();
    expect(await db.redis.zcard(index)).toBe(0);
    const later = T0 + 10 * MIN + 20 * SEC;
    for (const { event, t } of blocks('bob', later)) other.engine.ingest(event, t);
    other.engine.advanceTo(later + 9 * SEC + LATENESS);
    await other.engine.forceFlush();
    expect(other.alerts.map((a) => [a.rule, a.status, a.labels.user_id])).toEqual([[RULE, 'firing', 'bob']]);
    expect((await other.engine.openIncidents()).map((a) => a.labels.user_id)).toEqual(['bob']);
    expect(await db.redis.zrange(index, 0, -1)).toEqual([other.state.groupKey(ruleset, 'user_id', 'bob')]);
    await Promise.all([dying.engine.shutdown(), other.engine.shutdown()]);
  });
});
