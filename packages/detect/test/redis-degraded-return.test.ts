import { expect } from 'vitest';
import type { Alert } from '@llmsec/core';
import type { Cluster, Redis } from 'ioredis';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { standaloneAndCluster } from './redis-two-clients.ts';
import { until } from '../../../test/support/until.ts';

/**
 * An incident the local engine opened while Redis was unreachable, then Redis answers again and
 * the group's attack goes on. The process hands its open incidents to the shared state (see
 * state/hand-back.ts), so the fleet continues the one incident: its firing line from the
 * process that was cut off, its resolved line from the fleet's sweep, one alert id. (Until
 * then the fleet opened a second incident for the group: a second firing line.) When another
 * process opened the group's incident in Redis meanwhile, both fired already: the local one
 * stays local and each is resolved once. Redis "fails" here by its calls failing in one process
 * (the other keeps it), on a standalone server and a 3-master Cluster; a real redis-server
 * killed and restarted is redis-degraded-handback.test.ts.
 */

const LATENESS = 5 * SEC;
const RULE = 'rapid_guardrail_blocks';
const blocks = (user: string, from: number, n: number) =>
  Array.from({ length: n }, (_, s) =>
    ev({ at: from + s * SEC, category: 'guardrail_block', user, id: `${user}-${from + s * SEC}` }),
  );

function replica(redis: Redis | Cluster, ruleset: string, maxOpenIncidentsPerRule?: number) {
  const alerts: Alert[] = [];
  const state = new RedisDetectionState({
    redis,
    ruleset,
    commandTimeoutMs: 5_000,
    shutdownGraceMs: 0,
    probeIntervalMs: 20,
    ...(maxOpenIncidentsPerRule !== undefined ? { maxOpenIncidentsPerRule } : {}),
  });
  const engine = new DetectionEngine({
    rules: defaultRules(),
    allowedLatenessMs: LATENESS,
    // Off, so that an incident the fleet's full index refuses is not opened again elsewhere.
    maxOverflowIncidentsPerRule: 0,
    state,
    onAlert: (a) => alerts.push(a),
  });
  return { engine, state, alerts };
}

/** Process a is cut off from Redis while dave's first burst reaches it (b sees `alsoB` of it). */
async function scenario(
  clients: [Redis | Cluster, Redis | Cluster],
  ruleset: string,
  alsoB: boolean,
): Promise<Alert[]> {
  const a = replica(clients[0], ruleset);
  const b = replica(clients[1], ruleset);
  const warm = ev({ at: T0, category: 'guardrail_block', user: 'x', id: 'x-0' });
  a.engine.ingest(warm.event, warm.t);
  await a.engine.forceFlush();

  const up = { cas: a.state.cas, advanceClock: a.state.advanceClock, ping: a.state.ping };
  const fail = () => Promise.reject(new Error('Redis gone'));
  Object.assign(a.state, { cas: fail, advanceClock: fail, ping: fail });
  a.engine.advanceTo(T0 + 1);
  await a.engine.forceFlush();
  expect(a.engine.stats.state?.mode).toBe('degraded');
  // b sees the burst from its second event: its incident opens one event later than a's (with
  // the same opening event, the two would share an alert id).
  for (const { event, t } of blocks('dave', T0 + 9 * SEC, 11)) {
    a.engine.ingest(event, t);
    if (alsoB && t > T0 + 9 * SEC) b.engine.ingest(event, t);
  }
  a.engine.advanceTo(T0 + 19 * SEC + LATENESS);
  b.engine.advanceTo(T0 + 19 * SEC + LATENESS);
  await b.engine.forceFlush();

  Object.assign(a.state, up);
  await until(() => a.engine.stats.state?.mode === 'shared', 5_000);
  for (const { event, t } of blocks('dave', T0 + 30 * SEC, 10)) a.engine.ingest(event, t);
  a.engine.advanceTo(T0 + 39 * SEC + LATENESS);
  await a.engine.forceFlush();
  await a.engine.shutdown();
  b.engine.advanceTo(T0 + 30 * MIN);
  await b.engine.forceFlush();
  await b.engine.shutdown();
  expect(a.engine.stats.state?.degradedEpisodes).toBe(1);
  return [...a.alerts, ...b.alerts].filter((x) => x.rule === RULE && x.labels.user_id === 'dave');
}

standaloneAndCluster(
  'RedisDetectionState: an incident opened while degraded, Redis back, the attack goes on',
  'degraded-return',
  async (clients, ruleset) => {
    // The fleet continues the one incident: fired by a while cut off, resolved by b's sweep a
    // quiet period after the group's last event (a's burst after the return extended it).
    const lines = await scenario(clients, ruleset, false);
    expect(lines.map((x) => x.status)).toEqual(['firing', 'resolved']);
    const [firing, resolved] = lines;
    expect(resolved!.alert_id).toBe(firing!.alert_id);
    expect(firing!.starts_at).toBe(new Date(T0 + 18 * SEC).toISOString());
    expect(resolved!.ends_at).toBe(new Date(T0 + 39 * SEC + 10 * MIN).toISOString());

    // b opened the group's incident in Redis while a was cut off: two fired, each resolved once,
    // the local one by a (here as it leaves), the fleet's by b.
    const both = await scenario(clients, `${ruleset}-b`, true);
    const ids = [...new Set(both.map((x) => x.alert_id))];
    expect(ids).toHaveLength(2);
    for (const id of ids) {
      expect(both.filter((x) => x.alert_id === id).map((x) => x.status)).toEqual(['firing', 'resolved']);
    }

    // Several incidents opened while cut off, and the rule's resolve index (cap 2) has room for
    // one more: one is handed back (resolved by b's sweep), the other stays local (resolved by
    // a as it leaves); each user's incident fires once and resolves once, under one alert id.
    const rs = `${ruleset}-cap`;
    const a = replica(clients[0], rs, 2);
    const b = replica(clients[1], rs, 2);
    for (const { event, t } of blocks('carol', T0, 10)) b.engine.ingest(event, t);
    b.engine.advanceTo(T0 + 9 * SEC + LATENESS);
    await b.engine.forceFlush();
    const up = { cas: a.state.cas, advanceClock: a.state.advanceClock, ping: a.state.ping };
    const fail = () => Promise.reject(new Error('Redis gone'));
    Object.assign(a.state, { cas: fail, advanceClock: fail, ping: fail });
    const burst = [...blocks('dave', T0 + 20 * SEC, 10), ...blocks('erin', T0 + 20 * SEC, 10)];
    for (const { event, t } of burst.sort((x, y) => x.t - y.t)) a.engine.ingest(event, t);
    a.engine.advanceTo(T0 + 29 * SEC + LATENESS);
    await a.engine.forceFlush();
    expect(a.engine.stats.state?.mode).toBe('degraded');
    Object.assign(a.state, up);
    await until(() => a.engine.stats.state?.mode === 'shared', 5_000);
    a.engine.advanceTo(T0 + 35 * SEC + LATENESS);
    await a.engine.forceFlush();
    const fleet = (await b.engine.openIncidents()).map((x) => x.labels.user_id!).sort();
    expect(fleet).toHaveLength(2);
    expect(fleet[0]).toBe('carol');
    const local = fleet[1] === 'dave' ? 'erin' : 'dave';
    await a.engine.shutdown();
    b.engine.advanceTo(T0 + 30 * MIN);
    await b.engine.forceFlush();
    await b.engine.shutdown();
    for (const user of ['carol', 'dave', 'erin']) {
      const lines = [...a.alerts, ...b.alerts].filter((x) => x.rule === RULE && x.labels.user_id === user);
      expect(
        lines.map((x) => x.status),
        user,
      ).toEqual(['firing', 'resolved']);
      expect(lines[1]!.alert_id).toBe(lines[0]!.alert_id);
      // Who resolved it: the fleet's sweep (b) for the handed-back one and carol's, a for the local one.
      expect(b.alerts.includes(lines[1]!), user).toBe(user !== local);
    }
  },
);
