import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';
import { until } from '../../../test/support/until.ts';

/**
 * A real redis-server killed and restarted (empty, as after a crash without persistence) under
 * two processes. While it is down, process a detects alone and fires dave's incident locally.
 * When Redis answers again, a hands its open incidents to the shared state, so dave's attack,
 * going on through both processes, continues that one incident: one firing line, one resolved
 * line, one alert id, across the fleet. Before, the fleet opened a second incident for the group
 * (a second firing line under another alert id) while the local one still fired.
 */

const LATENESS = 5 * SEC;
const RULE = 'rapid_guardrail_blocks';

let server: RedisHandle;
const clients: Redis[] = [];

beforeAll(async () => {
  server = await startRedis();
  for (let i = 0; i < 2; i++) {
    const c = new Redis(server.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy: () => 50,
    });
    c.on('error', () => {}); // connection errors while the server is down are expected here
    await c.connect();
    clients.push(c);
  }
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.stop();
});

const blocks = (user: string, from: number, n: number) =>
  Array.from({ length: n }, (_, s) =>
    ev({ at: from + s * SEC, category: 'guardrail_block', user, id: `${user}-${from + s * SEC}` }),
  );

describe('RedisDetectionState: an incident opened while Redis was down, Redis back', () => {
  it('the fleet continues the one incident: one firing line, one resolved line', async () => {
    const ruleset = freshRuleset('handback');
    const replica = (client: number) => {
      const alerts: Alert[] = [];
      const state = new RedisDetectionState({
        redis: clients[client]!,
        ruleset,
        // Not 250: a round slowed past it by a loaded machine degrades b, and its blocks then miss
        // the fleet's count (below).
        commandTimeoutMs: 1_000,
        shutdownGraceMs: 0,
        probeIntervalMs: 20,
      });
      const engine = new DetectionEngine({
        rules: defaultRules(),
        allowedLatenessMs: LATENESS,
        state,
        onAlert: (x) => alerts.push(x),
      });
      return { engine, alerts };
    };
    const a = replica(0);
    const b = replica(1);
    for (const r of [a, b]) {
      const warm = ev({ at: T0, category: 'guardrail_block', user: 'x', id: 'x-0' });
      r.engine.ingest(warm.event, warm.t);
      await r.engine.forceFlush();
      expect(r.engine.stats.state?.mode).toBe('shared');
    }

    await server.kill();
    for (const { event, t } of blocks('dave', T0 + 10 * SEC, 10)) a.engine.ingest(event, t);
    a.engine.advanceTo(T0 + 19 * SEC + LATENESS);
    await a.engine.forceFlush();
    expect(a.engine.stats.state?.mode).toBe('degraded');
    // Detected locally while Redis is down.
    expect(a.alerts.map((x) => [x.rule, x.status, x.labels.user_id])).toEqual([[RULE, 'firing', 'dave']]);

    server = await startRedis({ port: server.port });
    await until(() => a.engine.stats.state?.mode === 'shared', 5_000);
    // Each client reconnects on its own retry timer: b's may not be ready yet. A block b ships
    // before it is goes to b's fallback (a degraded episode), so Redis's count of dave, emptied by
    // the restart, never reaches the rule's 10 and nothing extends the handed-back incident.
    await until(() => clients.every((c) => c.status === 'ready'), 5_000);
    // The attack goes on, split over both processes.
    for (const [i, { event, t }] of blocks('dave', T0 + 30 * SEC, 10).entries()) {
      const r = i % 2 === 0 ? a : b;
      r.engine.ingest(event, t);
      r.engine.advanceTo(t);
      await r.engine.forceFlush();
    }
    a.engine.advanceTo(T0 + 39 * SEC + LATENESS);
    await a.engine.forceFlush();
    b.engine.advanceTo(T0 + 39 * SEC + LATENESS);
    await b.engine.forceFlush();
    expect((await b.engine.openIncidents()).map((x) => x.labels.user_id)).toEqual(['dave']);
    await a.engine.shutdown();
    b.engine.advanceTo(T0 + 30 * MIN);
    await b.engine.forceFlush();
    await b.engine.shutdown();
    for (const r of [a, b]) expect(r.engine.stats.state?.degradedEpisodes).toBeLessThanOrEqual(1);
    // Every block after the return reached Redis (a block kept locally is missing from the fleet's count).
    expect(b.engine.stats.state?.degradedEvents).toBe(0);
    expect(a.engine.stats.state?.degradedEvents).toBe(10);

    const lines = [...a.alerts, ...b.alerts].filter((x) => x.rule === RULE && x.labels.user_id === 'dave');
    expect(lines.map((x) => x.status)).toEqual(['firing', 'resolved']);
    const [firing, resolved] = lines;
    expect(resolved!.alert_id).toBe(firing!.alert_id);
    // Opened locally at the tenth block of the outage; resolved by the fleet a quiet period after
    // the group's last event (the attack after Redis came back extended it).
    expect(firing!.starts_at).toBe(new Date(T0 + 19 * SEC).toISOString());
    expect(resolved!.ends_at).toBe(new Date(T0 + 39 * SEC + 10 * MIN).toISOString());
    expect(resolved!.evidence).toContain(`dave-${T0 + 39 * SEC}`);
  }, 30_000);
});
