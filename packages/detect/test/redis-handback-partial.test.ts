import { expect } from 'vitest';
import type { Alert } from '@llmsec/core';
import type { Cluster, Redis } from 'ioredis';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { standaloneAndCluster, type TwoClients } from './redis-two-clients.ts';
import { until } from '../../../test/support/until.ts';

/**
 * Redis fails again in the middle of a hand-back (state/hand-back.ts): the incidents already
 * written to the shared state must leave the local engine all the same. The hand-back moves
 * them concurrently; one that landed while another of the same batch failed stayed local too
 * (the batch's results were dropped with its first failure), so it lived twice: the fleet's
 * sweep resolved it, and the process that had handed it back resolved it again as it left (two
 * resolved lines for one incident), and an attack going on through this process's next outage
 * would have extended the local copy. Here the second write of the hand-back fails, and then
 * the second write lands but its reply is lost (a timeout): the next hand-back finds the group
 * holding the incident with its start (its alert id), so it is this one, not another process's,
 * and lets it go.
 */

const LATENESS = 5 * SEC;
const RULE = 'rapid_guardrail_blocks';
const blocks = (user: string, from: number, n: number) =>
  Array.from({ length: n }, (_, s) =>
    ev({ at: from + s * SEC, category: 'guardrail_block', user, id: `${user}-${from + s * SEC}` }),
  );

function replica(redis: Redis | Cluster, ruleset: string) {
  const alerts: Alert[] = [];
  const state = new RedisDetectionState({
    redis,
    ruleset,
    commandTimeoutMs: 5_000,
    shutdownGraceMs: 0,
    probeIntervalMs: 20,
  });
  const engine = new DetectionEngine({
    rules: defaultRules(),
    allowedLatenessMs: LATENESS,
    state,
    onAlert: (a) => alerts.push(a),
  });
  return { engine, state, alerts };
}

/**
 * `replyLost` false: the second write fails and Redis stays away past the incidents' quiet
 * period (a resolves what it holds), then comes back. True: it lands, its reply is lost, and
 * the next probe brings Redis back at once.
 */
async function cutHalfway(clients: TwoClients, ruleset: string, replyLost: boolean): Promise<void> {
  const a = replica(clients[0], ruleset);
  const b = replica(clients[1], ruleset);
  const up = { cas: a.state.cas, advanceClock: a.state.advanceClock, ping: a.state.ping };
  const fail = () => Promise.reject(new Error('Redis gone'));
  const down = { cas: fail, advanceClock: fail, ping: fail };
  Object.assign(a.state, down);
  const burst = [...blocks('dave', T0, 10), ...blocks('erin', T0, 10)];
  for (const { event, t } of burst.sort((x, y) => x.t - y.t)) a.engine.ingest(event, t);
  a.engine.advanceTo(T0 + 9 * SEC + LATENESS);
  await a.engine.forceFlush();
  expect(a.engine.stats.state?.mode).toBe('degraded');
  expect(a.engine.activeIncidents().filter((x) => x.rule === RULE)).toHaveLength(2);

  // Redis answers again; the hand-back's first write lands, its second fails or lands with its
  // reply lost: a degrades again.
  let writes = 0;
  const cas: RedisDetectionState['cas'] = (key, expected, text, ttl) => {
    if (expected === -1 || ++writes !== 2) return up.cas.call(a.state, key, expected, text, ttl);
    if (replyLost) return up.cas.call(a.state, key, expected, text, ttl).then(fail);
    Object.assign(a.state, down);
    return fail();
  };
  Object.assign(a.state, { ...up, cas });
  await until(() => a.engine.stats.state?.degradedEpisodes === 2, 5_000);
  if (!replyLost) {
    // Still away past the quiet period: a resolves what it holds, and only that.
    a.engine.advanceTo(T0 + 20 * MIN);
    await a.engine.forceFlush();
    expect(a.engine.stats.state?.mode).toBe('degraded');
    Object.assign(a.state, up);
  }
  await until(() => a.engine.stats.state?.mode === 'shared', 5_000);
  a.engine.advanceTo(replyLost ? T0 + 20 * SEC + LATENESS : T0 + 20 * MIN + SEC);
  await a.engine.forceFlush();
  expect(a.engine.activeIncidents().filter((x) => x.rule === RULE)).toEqual([]);
  // Reply lost: both are the fleet's (the second found moved by the next hand-back), open until
  // b's sweep. Otherwise a resolved the one it held while Redis was away, and its first round
  // back swept the one that had landed (a's clock is past it).
  const fleet = (await b.engine.openIncidents()).filter((x) => x.rule === RULE);
  expect(fleet).toHaveLength(replyLost ? 2 : 0);

  await a.engine.shutdown();
  b.engine.advanceTo(T0 + 30 * MIN);
  await b.engine.forceFlush();
  await b.engine.shutdown();
  for (const user of ['dave', 'erin']) {
    const lines = [...a.alerts, ...b.alerts].filter((x) => x.rule === RULE && x.labels.user_id === user);
    expect(
      lines.map((x) => x.status),
      user,
    ).toEqual(['firing', 'resolved']);
    expect(lines[1]!.alert_id).toBe(lines[0]!.alert_id);
    if (replyLost) expect(b.alerts.includes(lines[1]!), user).toBe(true);
  }
}

standaloneAndCluster(
  'RedisDetectionState: Redis fails again halfway through a hand-back',
  'handback-partial',
  async (clients, ruleset) => {
    await cutHalfway(clients, ruleset, false);
    await cutHalfway(clients, `${ruleset}-lost`, true);
  },
);
