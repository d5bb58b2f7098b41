import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import type { Redis } from 'ioredis';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';

/**
 * The resolve-index removal a process sends at the end of its round, after its sweep resolved
 * an incident, lands after another process opened the group's next incident (and admitted it,
 * re-scoring the same member): the removal must leave that entry, or the new incident is
 * neither listed by openIncidents() nor resolved by any sweep. redis-open-index.test.ts checks
 * the script's rule (remove only an entry scored at most the given score); this checks that the
 * engine gives it a score that keeps a newer incident's entry (the round's watermark).
 */

const LATENESS = 5 * SEC;
const RULE = 'rapid_guardrail_blocks';

function engineOn(redis: Redis, ruleset: string, alerts: Alert[]) {
  const state = new RedisDetectionState({ redis, ruleset, commandTimeoutMs: 5_000, shutdownGraceMs: 0 });
  const engine = new DetectionEngine({
    rules: defaultRules(),
    allowedLatenessMs: LATENESS,
    state,
    onAlert: (a) => alerts.push(a),
  });
  return { engine, state };
}

const blocks = (from: number) =>
  Array.from({ length: 10 }, (_, s) =>
    ev({ at: from + s * SEC, category: 'guardrail_block', user: 'alice', id: `alice-${from + s * SEC}` }),
  );

describe('RedisDetectionState: a late index removal and a newer incident of the group', () => {
  const db = useRedis({ clients: 2 });

  it("the sweeping process's removal leaves the entry of the incident another process opened meanwhile", async () => {
    const ruleset = freshRuleset('rm-race');
    // Both processes' alerts, in the order they were delivered.
    const alerts: Alert[] = [];
    const a = engineOn(db.clients[0]!, ruleset, alerts);
    const b = engineOn(db.clients[1]!, ruleset, alerts);
    for (const { event, t } of blocks(T0)) a.engine.ingest(event, t);
    a.engine.advanceTo(T0 + 9 * SEC + LATENESS);
    await a.engine.forceFlush();

    // B opens Alice's next incident between A's resolving write and A's index removal.
    const second = T0 + 10 * MIN + 20 * SEC;
    const update = a.state.updateIndex.bind(a.state);
    let interleaved = false;
    a.state.updateIndex = async (key, ttlMs, ops) => {
      if (!interleaved && ops.some((op, i) => i % 3 === 0 && op === 0)) {
        interleaved = true;
        for (const { event, t } of blocks(second)) b.engine.ingest(event, t);
        b.engine.advanceTo(second + 9 * SEC + LATENESS);
        await b.engine.forceFlush();
      }
      return update(key, ttlMs, ops);
    };
    // Quiet past the first incident's resolve time (T0 + 9 s + 10 min): A's sweep resolves it.
    a.engine.advanceTo(T0 + 10 * MIN + 15 * SEC);
    await a.engine.forceFlush();
    expect(interleaved).toBe(true);
    const lines = () => alerts.filter((x) => x.rule === RULE).map((x) => x.status);
    expect(lines()).toEqual(['firing', 'resolved', 'firing']);

    // The second incident is still listed, and a sweep resolves it once it is quiet.
    const listed = await a.engine.openIncidents();
    expect(listed.map((x) => [x.rule, x.labels.user_id])).toEqual([[RULE, 'alice']]);
    a.engine.advanceTo(second + 9 * SEC + 11 * MIN);
    await a.engine.forceFlush();
    expect(lines()).toEqual(['firing', 'resolved', 'firing', 'resolved']);
    expect(await b.engine.openIncidents()).toEqual([]);
    await Promise.all([a.engine.shutdown(), b.engine.shutdown()]);
  });
});
