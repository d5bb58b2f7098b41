import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';
import { until } from '../../../test/support/until.ts';

/**
 * A group this process holds an overflow incident of keeps attacking while Redis is down (the
 * server killed). Its events go to the in-memory fallback engine, whose own window for the
 * group starts empty; once the rule holds there, the fallback used to open a second incident
 * for the group and send a second firing line (another alert id, the same labels) while the
 * first was still open: two incidents where one process in memory has one, extended. Now the
 * fallback extends the overflow incident instead (one firing line, one resolved line, ending a
 * quiet period after the group's last event), and opens its own only once that one is due
 * (resolving it first when one release of the fallback passes its due time).
 */

const LATENESS = 5 * SEC;
const RULE = 'rapid_guardrail_blocks';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const blocks = (user: string, from: number, n: number) =>
  Array.from({ length: n }, (_, s) =>
    ev({ at: from + s * SEC, category: 'guardrail_block', user, id: `${user}-${from + s * SEC}` }),
  );

/**
 * Alice and Bob fill the cap (2) in Redis, Mallory's overflow incident fires (last block 39 s);
 * then the server is killed and her next ten blocks (50-59 s) reach the fallback engine.
 */
async function mallorysBlocksWhileDegraded() {
  const server: RedisHandle = await startRedis();
  const redis = new Redis(server.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: () => 50,
  });
  redis.on('error', () => {}); // connection errors while the server is down are expected here
  await redis.connect();
  const alerts: Alert[] = [];
  const state = new RedisDetectionState({
    redis,
    ruleset: freshRuleset('overflow-degraded-extend'),
    // Redis killed, a round waits for the reconnecting client and fails at this timeout: 2 s,
    // not 250 ms, so that a loaded host's Redis, slow by itself before the kill, does not
    // degrade the engine early (Mallory's overflow incident must be decided in Redis first).
    commandTimeoutMs: 2_000,
    probeIntervalMs: 60_000,
    shutdownGraceMs: 0,
    maxOpenIncidentsPerRule: 2,
  });
  const engine = new DetectionEngine({
    rules: defaultRules(),
    allowedLatenessMs: LATENESS,
    state,
    onAlert: (a) => alerts.push(a),
  });
  cleanups.push(async () => {
    await engine.shutdown();
    redis.disconnect();
    await server.stop();
  });
  const mallory = () => alerts.filter((a) => a.rule === RULE && a.labels.user_id === 'mallory');
  const [alice, bob] = [blocks('alice', T0, 10), blocks('bob', T0, 10)];
  for (let i = 0; i < 10; i++) for (const { event, t } of [alice[i]!, bob[i]!]) engine.ingest(event, t);
  for (const { event, t } of blocks('mallory', T0 + 30 * SEC, 10)) engine.ingest(event, t);
  engine.advanceTo(T0 + 39 * SEC + LATENESS);
  await engine.forceFlush();
  expect(mallory().map((a) => a.status)).toEqual(['firing']);
  expect(engine.stats.incidentsRefused).toBe(1);

  await server.kill();
  // Her next ten blocks: the first round after the kill fails, and they reach the fallback.
  for (const { event, t } of blocks('mallory', T0 + 50 * SEC, 10)) engine.ingest(event, t);
  engine.advanceTo(T0 + 59 * SEC + LATENESS);
  await until(() => engine.stats.state?.mode === 'degraded', 30_000); // a hang bound
  engine.advanceTo(T0 + 59 * SEC + LATENESS + 1);
  expect(engine.stats.state?.degradedEvents).toBeGreaterThanOrEqual(10);
  return { engine, mallory };
}

describe('RedisDetectionState: degraded events of a group in the overflow tier', () => {
  it('extend its overflow incident: no second firing line', async () => {
    const { engine, mallory } = await mallorysBlocksWhileDegraded();
    expect(mallory().map((a) => a.status)).toEqual(['firing']);
    // Extended by the fallback's events: still open at her first incident's old due time.
    engine.advanceTo(T0 + 39 * SEC + 10 * MIN + LATENESS + 1);
    expect(mallory().map((a) => a.status)).toEqual(['firing']);
    engine.advanceTo(T0 + 59 * SEC + 10 * MIN + LATENESS);
    expect(mallory().map((a) => a.status)).toEqual(['firing', 'resolved']);
    const [fired, resolved] = mallory();
    expect(resolved!.alert_id).toBe(fired!.alert_id);
    expect(Date.parse(resolved!.ends_at!)).toBe(T0 + 59 * SEC + 10 * MIN);
    expect(resolved!.evidence).toContain(`mallory-${T0 + 59 * SEC}`);
    expect(engine.activeIncidents().filter((a) => a.labels.user_id === 'mallory')).toEqual([]);
    // Once it resolved, the group's next incident is the fallback's own (a new firing line).
    for (const { event, t } of blocks('mallory', T0 + 20 * MIN, 10)) engine.ingest(event, t);
    engine.advanceTo(T0 + 20 * MIN + 9 * SEC + LATENESS);
    expect(mallory().map((a) => a.status)).toEqual(['firing', 'resolved', 'firing']);
  });

  it('a release past its due time resolves it first, then the fallback opens the next', async () => {
    const { engine, mallory } = await mallorysBlocksWhileDegraded();
    // Her next burst, past the overflow incident's due time (59 s + 10 min), released in one go.
    for (const { event, t } of blocks('mallory', T0 + 20 * MIN, 10)) engine.ingest(event, t);
    engine.advanceTo(T0 + 20 * MIN + 9 * SEC + LATENESS);
    expect(mallory().map((a) => a.status)).toEqual(['firing', 'resolved', 'firing']);
    const [fired, resolved, next] = mallory();
    expect(resolved!.alert_id).toBe(fired!.alert_id);
    expect(Date.parse(resolved!.ends_at!)).toBe(T0 + 59 * SEC + 10 * MIN);
    expect(next!.alert_id).not.toBe(fired!.alert_id);
    expect(engine.activeIncidents().filter((a) => a.labels.user_id === 'mallory')).toHaveLength(1);
  });
});
