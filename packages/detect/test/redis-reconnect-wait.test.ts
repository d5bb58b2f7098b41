import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useOutageRedis } from '../../../test/support/redis-outage.ts';
import type { RedisHandle } from '../../../test/support/redis.ts';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';
import { until } from '../../../test/support/until.ts';

/**
 * A real redis-server killed and restarted on its port while the engine's client waits out a
 * retry delay longer than the next round. With `enableOfflineQueue: false` ioredis refuses a
 * command at once while its client is not ready: before, that round failed, the engine degraded
 * and its events stayed local until the next probe (a fleet under-counted: the handback test's
 * flake). Now the round waits for the client's `ready`, under the command timeout: it reaches
 * Redis. A Redis that stays down still degrades (the timeout bounds the wait, no event is lost),
 * and a call whose wait timed out is never sent afterwards (its round went to the fallback).
 */

const RULE = 'rapid_guardrail_blocks';
/** Longer than the time from the restart to the round: the client is still on its timer. */
const RETRY_MS = 2_000;

const outage = useOutageRedis();
let server: RedisHandle;

async function slowRetryClient(url: string): Promise<Redis> {
  const c = outage.client(url, { lazyConnect: true, retryStrategy: () => RETRY_MS });
  await c.connect();
  return c;
}

const blocks = (user: string, from: number, n: number) =>
  Array.from({ length: n }, (_, s) =>
    ev({ at: from + s * SEC, category: 'guardrail_block', user, id: `${user}-${from + s * SEC}` }),
  );

async function engineOn(client: Redis, commandTimeoutMs: number) {
  const alerts: Alert[] = [];
  const ruleset = freshRuleset('reconnect');
  const state = new RedisDetectionState({
    redis: client,
    ruleset,
    commandTimeoutMs,
    shutdownGraceMs: 0,
    probeIntervalMs: 60_000, // no probe during the test: only the rounds talk to Redis
  });
  const engine = new DetectionEngine({
    rules: defaultRules(),
    allowedLatenessMs: 5 * SEC,
    state,
    onAlert: (a) => alerts.push(a),
  });
  const warm = ev({ at: T0, category: 'guardrail_block', user: 'x', id: 'x-0' });
  engine.ingest(warm.event, warm.t);
  await engine.forceFlush();
  expect(engine.stats.state?.mode).toBe('shared');
  return { engine, alerts, ruleset };
}

/** Kills the server and starts it again, empty, on its port; the client is left reconnecting. */
async function restart(client: Redis): Promise<void> {
  await server.kill();
  await until(() => client.status === 'reconnecting', 5_000);
  server = await outage.start({ port: server.port });
  // The precondition of the case: the client is not back yet (its retry timer runs).
  expect(client.status).not.toBe('ready');
}

describe('RedisDetectionState: a client reconnecting after a Redis restart', () => {
  it("a round waits for the client's ready and reaches Redis: no degraded episode", async () => {
    server = await outage.start();
    const client = await slowRetryClient(server.url);
    const { engine, alerts } = await engineOn(client, 10_000);

    await restart(client);
    for (const { event, t } of blocks('dave', T0 + 10 * SEC, 10)) engine.ingest(event, t);
    engine.advanceTo(T0 + 24 * SEC); // past the lateness: every block processed
    await engine.forceFlush();

    expect(engine.stats.state?.mode).toBe('shared');
    expect(engine.stats.state?.degradedEpisodes).toBe(0);
    expect(engine.stats.state?.degradedEvents).toBe(0);
    expect(alerts.map((a) => [a.rule, a.status, a.labels.user_id])).toEqual([[RULE, 'firing', 'dave']]);
    // The fleet's count: the incident is in the shared state, not in this process alone.
    expect((await engine.openIncidents()).map((x) => x.labels.user_id)).toEqual(['dave']);
    await engine.shutdown();
  }, 30_000);

  it('a Redis that stays down still degrades within the command timeout; no event is lost', async () => {
    server = await outage.start();
    const client = await slowRetryClient(server.url);
    const { engine, alerts } = await engineOn(client, 300);

    await server.kill();
    await until(() => client.status === 'reconnecting', 5_000);
    for (const { event, t } of blocks('dave', T0 + 10 * SEC, 10)) engine.ingest(event, t);
    engine.advanceTo(T0 + 24 * SEC); // past the lateness: every block processed
    await engine.forceFlush();

    expect(engine.stats.state?.mode).toBe('degraded');
    expect(engine.stats.state?.degradedEpisodes).toBe(1);
    expect(engine.stats.state?.degradedEvents).toBe(10);
    expect(alerts.map((a) => [a.rule, a.status, a.labels.user_id])).toEqual([[RULE, 'firing', 'dave']]);
    await engine.shutdown();
    server = await outage.start({ port: server.port }); // for the helper's stop after the test
  }, 30_000);

  it('a call whose wait timed out is not sent once the client is ready', async () => {
    server = await outage.start();
    const client = await slowRetryClient(server.url);
    // Shorter than the retry delay: the round gives up waiting and degrades.
    const { engine, ruleset } = await engineOn(client, 300);

    await restart(client);
    for (const { event, t } of blocks('erin', T0 + 10 * SEC, 3)) engine.ingest(event, t);
    await engine.forceFlush();
    expect(engine.stats.state?.mode).toBe('degraded');
    expect(engine.stats.state?.degradedEvents).toBe(3);

    await until(() => client.status === 'ready', 10_000);
    await new Promise((r) => setTimeout(r, 100)); // room for anything the wait would still send
    // Redis was emptied by the restart: a key of this rule set means a round's call went out
    // after the round had failed over to the fallback (its events counted twice in the fleet).
    const probe = outage.client(server.url, { lazyConnect: true });
    await probe.connect();
    expect((await probe.keys('*')).filter((k) => k.includes(ruleset))).toEqual([]);
    await engine.shutdown();
  }, 30_000);
});
