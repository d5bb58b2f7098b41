import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';

/**
 * A process's overflow incidents when its final round fails (Redis gone at flush(), e.g. the end
 * of a replay): the final flush then happens locally (the fallback's flush), and the overflow incidents due by
 * the newest time this process knows of must resolve there too, as they do when flush() finds
 * the process already degraded. Before, they kept firing for good: the process stopped with no
 * resolved line.
 */

const LATENESS = 5 * SEC;
const RULE = 'rapid_guardrail_blocks';

const blocks = (user: string, from: number, n: number) =>
  Array.from({ length: n }, (_, s) =>
    ev({ at: from + s * SEC, category: 'guardrail_block', user, id: `${user}-${from + s * SEC}` }),
  );

async function mallorysOverflowIncident(redis: Redis) {
  const alerts: Alert[] = [];
  const state = new RedisDetectionState({
    redis,
    ruleset: freshRuleset('overflow-final'),
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
  const [alice, bob] = [blocks('alice', T0, 10), blocks('bob', T0, 10)];
  for (let i = 0; i < 10; i++) for (const { event, t } of [alice[i]!, bob[i]!]) engine.ingest(event, t);
  for (const { event, t } of blocks('mallory', T0 + 30 * SEC, 10)) engine.ingest(event, t);
  engine.advanceTo(T0 + 39 * SEC + LATENESS);
  await engine.forceFlush();
  expect(lines('mallory')).toEqual(['firing']);
  return { engine, state, lines };
}

describe('RedisDetectionState: overflow incidents when the final round fails', () => {
  const db = useRedis();

  it('resolves the overflow incidents due by the newest time known', async () => {
    const { engine, state, lines } = await mallorysOverflowIncident(db.redis);
    // Redis goes away; an event past Mallory's quiet period is the last input, and the final
    // round that would carry it fails.
    const fail = () => Promise.reject(new Error('Redis gone'));
    state.cas = fail;
    state.advanceClock = fail;
    state.ping = fail;
    const last = ev({ at: T0 + 39 * SEC + 11 * MIN, category: 'guardrail_block', user: 'zed', id: 'zed-1' });
    engine.ingest(last.event, last.t);
    engine.flush();
    await engine.forceFlush();
    expect(engine.stats.state?.mode).toBe('degraded');
    expect(lines('mallory')).toEqual(['firing', 'resolved']);
    expect(engine.activeIncidents().filter((a) => a.labels.user_id === 'mallory')).toEqual([]);
    await engine.shutdown();
  });

  it('a flush() that finds the process degraded resolves them too', async () => {
    const { engine, state, lines } = await mallorysOverflowIncident(db.redis);
    const fail = () => Promise.reject(new Error('Redis gone'));
    state.cas = fail;
    state.advanceClock = fail;
    state.ping = fail;
    engine.advanceTo(T0 + 40 * SEC + LATENESS);
    await engine.forceFlush();
    expect(engine.stats.state?.mode).toBe('degraded');
    // The last input, past Mallory's quiet period, reaches the fallback; then the end of input.
    const last = ev({ at: T0 + 39 * SEC + 11 * MIN, category: 'guardrail_block', user: 'zed', id: 'zed-2' });
    engine.ingest(last.event, last.t);
    expect(lines('mallory')).toEqual(['firing']);
    engine.flush();
    await engine.forceFlush();
    expect(lines('mallory')).toEqual(['firing', 'resolved']);
    await engine.shutdown();
  });
});
