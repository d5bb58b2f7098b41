import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import {
  startRedis,
  startRedisCluster,
  type RedisClusterHandle,
  type RedisHandle,
} from '../../../test/support/redis.ts';
import {
  defaultRules,
  DetectionEngine,
  RedisDetectionState,
  type AlertSink,
  type FleetIncidentCheck,
  type RuleDefinition,
} from '../src/index.ts';
import { fleetScenario, runProcesses } from './engine-children.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { canonical, freshRuleset, memoryAlerts, sequences } from './redis-support.ts';
import { incidentLines } from './redis-split.ts';
import { standaloneAndCluster, type TwoClients } from './redis-two-clients.ts';

/**
 * A rolling upgrade that changes the rules: replicas of two releases on one Redis, one running
 * the built-in rules R, others R plus a rule (a release that adds one) or R in another order.
 * Shared state is per rule (its definition's state id), so R's rules keep detecting as one
 * fleet: the same incidents one in-memory engine finds, one firing and one resolved line each.
 * Before, state was per rule set (keyed by a hash of the whole list, tables and resolve indexes
 * by position): the two releases shared nothing, or under a pinned ruleset read each other's
 * tables.
 */

const LATENESS = 30_000;

// 300 s per fleet case: a bound on a hang only. Three engine processes on the scenario: the
// Cluster case took 75 s of wall at load 14-20 beside another file, 62% of the former 120 s,
// which left no room at CI's load 20-28 (redis-processes-skew, the same processes, ran at ~9x
// its CPU at load 32).

/** A rule of a newer release: grouped by user, as most of R, so it lives in the same stored groups. */
const EXTRA: RuleDefinition = {
  id: 'two_blocks_a_minute',
  title: 'Two guardrail blocks in a minute',
  severity: 'warning',
  match: { categories: ['guardrail_block'] },
  group_by: 'user_id',
  window_ms: 60_000,
  condition: { kind: 'count', min: 2 },
};

describe('RedisDetectionState: replicas of two releases (rules added, reordered)', () => {
  let server: RedisHandle;
  let cluster: RedisClusterHandle;
  const stream = fleetScenario();
  const want = memoryAlerts(defaultRules(), stream, LATENESS);

  beforeAll(async () => {
    server = await startRedis();
    cluster = await startRedisCluster(3);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await cluster?.stop();
  });

  /** R's alerts of the whole fleet against one memory engine's; the added rule fired too. */
  function check(result: { alerts: Alert[]; perProcess: Alert[][]; late: number }, extraAt: number): void {
    expect(result.late).toBe(0);
    const ours = result.alerts.filter((a) => a.rule !== EXTRA.id);
    expect(incidentLines(ours).problems).toEqual([]);
    expect(sequences(ours)).toEqual(sequences(want));
    expect(canonical(ours)).toEqual(canonical(want));
    // The added rule ran beside R in the same stored groups (so its entries were there to disturb R's).
    expect(result.perProcess[extraAt]!.some((a) => a.rule === EXTRA.id)).toBe(true);
    result.perProcess.forEach((alerts, k) => {
      if (k !== extraAt) expect(alerts.some((a) => a.rule === EXTRA.id)).toBe(false);
    });
  }

  it('the scenario fires several rules', () => {
    expect(new Set(want.map((a) => a.rule)).size).toBeGreaterThanOrEqual(3);
  });

  it('standalone, default namespace: R, R + a rule, R = one memory engine for R', async () => {
    // Its own prefix: the default namespace is one per prefix.
    const base = { url: server.url, prefix: `up-${freshRuleset()}`, latenessMs: LATENESS };
    const result = await runProcesses([base, { ...base, extraRules: [EXTRA] }, base], stream, LATENESS);
    check(result, 1);
  }, 300_000);

  it('standalone, pinned ruleset: R, R + a rule, R reversed = one memory engine for R', async () => {
    const base = { url: server.url, ruleset: freshRuleset('up'), latenessMs: LATENESS };
    const result = await runProcesses(
      [base, { ...base, extraRules: [EXTRA] }, { ...base, reverse: true }],
      stream,
      LATENESS,
    );
    check(result, 1);
  }, 300_000);

  it('Redis Cluster (3 masters), pinned ruleset: the same', async () => {
    const base = { nodes: cluster.nodes, ruleset: freshRuleset('upc'), latenessMs: LATENESS };
    const result = await runProcesses(
      [{ ...base, reverse: true }, base, { ...base, extraRules: [EXTRA] }],
      stream,
      LATENESS,
    );
    check(result, 2);
  }, 300_000);
});

const L = 10 * SEC;

function engineOn(
  redis: TwoClients[number],
  rules: RuleDefinition[],
  where: { ruleset?: string; prefix?: string },
): { engine: DetectionEngine; alerts: Alert[] } {
  const alerts: Alert[] = [];
  const state = new RedisDetectionState({ redis, ...where, commandTimeoutMs: 5_000, shutdownGraceMs: 0 });
  const engine = new DetectionEngine({
    rules,
    allowedLatenessMs: L,
    state,
    onAlert: (a) => alerts.push(a),
  });
  return { engine, alerts };
}

function blocks(engine: DetectionEngine, user: string, from: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const { event, t } = ev({
      at: from + i * SEC,
      category: 'guardrail_block',
      user,
      id: `${user}-${from + i * SEC}`,
    });
    engine.ingest(event, t);
  }
}

const burst = (min: number): RuleDefinition => ({
  id: 'burst',
  title: 'Burst of blocks',
  severity: 'alert',
  match: { categories: ['guardrail_block'] },
  group_by: 'user_id',
  window_ms: 10 * MIN,
  condition: { kind: 'count', min },
});

standaloneAndCluster(
  'RedisDetectionState: a rule changed under the same id',
  'changed',
  async ([a, b], ruleset) => {
    // Release 1: burst at 5 blocks. Alice has 4 in the window.
    const v1 = engineOn(a, [burst(5)], { ruleset });
    blocks(v1.engine, 'alice', T0, 4);
    v1.engine.advanceTo(T0 + 3 * SEC + L);
    await v1.engine.forceFlush();
    expect(v1.alerts).toEqual([]);

    // Release 2: burst at 3 blocks. Two more blocks: 2 < 3 under its own definition; with the
    // first release's 4 inherited it would see 6 and fire.
    const v2 = engineOn(b, [burst(3)], { ruleset });
    blocks(v2.engine, 'alice', T0 + 4 * SEC, 2);
    v2.engine.advanceTo(T0 + 5 * SEC + L);
    await v2.engine.forceFlush();
    expect(v2.alerts).toEqual([]);

    // The unchanged definition kept its state in the same group: a fifth block fires release 1's rule.
    blocks(v1.engine, 'alice', T0 + 6 * SEC, 1);
    v1.engine.advanceTo(T0 + 6 * SEC + L);
    await v1.engine.forceFlush();
    expect(v1.alerts.map((x) => [x.rule, x.status, x.labels.user_id])).toEqual([
      ['burst', 'firing', 'alice'],
    ]);
    // Release 2's state goes on from its own two blocks: one more fires it.
    blocks(v2.engine, 'alice', T0 + 7 * SEC, 1);
    v2.engine.advanceTo(T0 + 7 * SEC + L);
    await v2.engine.forceFlush();
    expect(v2.alerts.map((x) => [x.rule, x.status, x.labels.user_id])).toEqual([
      ['burst', 'firing', 'alice'],
    ]);
    await v1.engine.shutdown();
    await v2.engine.shutdown();
  },
);

standaloneAndCluster(
  'RedisDetectionState: incidents open when the fleet switches release',
  'switch',
  async ([a, b], ruleset) => {
    // The default namespace (no ruleset), as a detector fleet runs: its own prefix per run.
    const where = { prefix: `sw-${ruleset}` };
    const rules = defaultRules() as RuleDefinition[];
    const old = engineOn(a, rules, where);
    blocks(old.engine, 'alice', T0, 10);
    old.engine.advanceTo(T0 + 9 * SEC + L);
    await old.engine.forceFlush();
    expect(old.alerts.map((x) => [x.rule, x.status])).toEqual([['rapid_guardrail_blocks', 'firing']]);
    // The old release's replica leaves; the new release (one rule more, another order) takes over.
    await old.engine.shutdown();

    const next = engineOn(b, [EXTRA, ...rules].reverse(), where);
    expect((await next.engine.openIncidents()).map((x) => [x.rule, x.alert_id])).toEqual([
      ['rapid_guardrail_blocks', old.alerts[0]!.alert_id],
    ]);
    // Past the quiet period: the new release's sweep resolves the old release's incident, once.
    next.engine.advanceTo(T0 + 9 * SEC + 10 * MIN + L + SEC);
    await next.engine.forceFlush();
    next.engine.flush();
    await next.engine.forceFlush();
    expect(next.alerts.map((x) => [x.rule, x.status, x.alert_id])).toEqual([
      ['rapid_guardrail_blocks', 'resolved', old.alerts[0]!.alert_id],
    ]);
    expect(await next.engine.openIncidents()).toEqual([]);
    await next.engine.shutdown();
  },
);

standaloneAndCluster(
  'RedisDetectionState: an added rule and the pending events an older replica shipped',
  'projection',
  async ([a, b], ruleset) => {
    // The older release reads no channel: its pending events are projected without it.
    const base: RuleDefinition = { ...burst(100), id: 'many_blocks' };
    // The newer release adds a rule on blocks from outside the web app (no channel).
    const noChannel: RuleDefinition = {
      id: 'block_without_channel',
      title: 'A block from outside the web app',
      severity: 'warning',
      match: { categories: ['guardrail_block'], where: [{ field: 'metadata.channel', exists: false }] },
      group_by: 'user_id',
      window_ms: MIN,
      condition: { kind: 'count', min: 1 },
    };
    const web = (at: number, id: string) =>
      ev({ at, category: 'guardrail_block', user: 'alice', id, metadata: { channel: 'web' } });
    const older = engineOn(a, [base], { ruleset });
    const newer = engineOn(b, [base, noChannel], { ruleset });
    // The older replica ships a web block; it waits, pending in alice's group, for the watermark.
    const first = web(T0, 'web-1');
    older.engine.ingest(first.event, first.t);
    await older.engine.forceFlush();
    // The newer replica's next block of alice moves the clock past it and steps the group: the
    // first block had its channel cut by the older replica's projection, and is not judged
    // "without channel" by the added rule (which would fire a false alert).
    const second = web(T0 + 2 * L, 'web-2');
    newer.engine.ingest(second.event, second.t);
    await newer.engine.forceFlush();
    newer.engine.flush();
    await newer.engine.forceFlush();
    expect(newer.alerts).toEqual([]);
    // The same added rule does fire on a block without a channel, whoever shipped it.
    const bare = ev({ at: T0 + 2 * L + SEC, category: 'guardrail_block', user: 'alice', id: 'bare' });
    newer.engine.ingest(bare.event, bare.t);
    newer.engine.flush();
    await newer.engine.forceFlush();
    expect(newer.alerts.map((x) => [x.rule, x.status, x.evidence])).toEqual([
      ['block_without_channel', 'firing', ['bare']],
    ]);
    await older.engine.shutdown();
    await newer.engine.shutdown();
  },
);

standaloneAndCluster(
  'RedisDetectionState: the fleet check and an incident of another definition of the rule',
  'fleet-check',
  async ([a, b], ruleset) => {
    /** An engine whose sink only captures the fleet check the engine hands its sinks. */
    const withCheck = (redis: TwoClients[number], rules: RuleDefinition[]) => {
      let check: FleetIncidentCheck | undefined;
      const sink: AlertSink = {
        name: 'capture',
        send: () => undefined,
        useFleet: (f) => (check = f),
        forceFlush: async () => undefined,
        shutdown: async () => undefined,
      };
      const alerts: Alert[] = [];
      const engine = new DetectionEngine({
        rules,
        allowedLatenessMs: L,
        state: new RedisDetectionState({ redis, ruleset, commandTimeoutMs: 5_000, shutdownGraceMs: 0 }),
        sinks: [sink],
        onAlert: (x) => alerts.push(x),
      });
      return { engine, alerts, check: () => check! };
    };
    const v1 = withCheck(a, [burst(5)]);
    const v2 = withCheck(b, [burst(3)]);
    blocks(v1.engine, 'alice', T0, 5);
    v1.engine.advanceTo(T0 + 4 * SEC + L);
    await v1.engine.forceFlush();
    const fired = v1.alerts.find((x) => x.status === 'firing')!;
    expect(fired.labels).toEqual({ user_id: 'alice' });
    // A replica of the other release asked whether release 1's alert is closed (its sink re-sends
    // alerts it adopted): not by it. Its own definition holds nothing for alice, but release 1's
    // does: "ended" would resolve a live incident in Alertmanager.
    const ref = [{ alert_id: fired.alert_id, rule: fired.rule, labels: fired.labels }];
    const answer = await v2.check().closed(ref);
    expect([...answer.ended, ...answer.superseded]).toEqual([]);
    // Once release 1's replica resolved it, it is ended for both.
    v1.engine.advanceTo(T0 + 4 * SEC + 10 * MIN + L + SEC);
    await v1.engine.forceFlush();
    expect(v1.alerts.map((x) => x.status)).toEqual(['firing', 'resolved']);
    expect([...(await v2.check().closed(ref)).ended]).toEqual([fired.alert_id]);
    await v1.engine.shutdown();
    await v2.engine.shutdown();
  },
);
