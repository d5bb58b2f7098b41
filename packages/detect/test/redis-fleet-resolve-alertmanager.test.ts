import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { activeAlertsFor, useAlertmanager } from '../../../test/support/alertmanager.ts';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { AlertmanagerSink, defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { block, ev, MIN, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';
import { until } from '../../../test/support/until.ts';

/**
 * An incident fired by replica a and resolved by replica b's resolve sweep (a never sees the
 * resolve), one real Alertmanager, re-sends every 1.5 s. a's sink asks the shared state
 * before each re-send and resolves what the fleet closed; without the check (fleetCheck:
 * false, the behaviour before) a re-sends its firing copy and Alertmanager shows the incident
 * active again, for good.
 */

const LATENESS = 5 * SEC;
const RESEND_MS = 1_500;

const am = useAlertmanager();

const activeFor = (user: string): Promise<number> => activeAlertsFor(am, user);

function replica(
  redis: Redis,
  ruleset: string,
  fleetCheck?: boolean,
  resendIntervalMs = RESEND_MS,
  adoptFleetIncidents?: boolean,
) {
  const alerts: Alert[] = [];
  const sink = new AlertmanagerSink({
    urls: [am.url],
    resendIntervalMs,
    flushTimeoutMs: 5_000,
    ...(fleetCheck !== undefined ? { fleetCheck } : {}),
    ...(adoptFleetIncidents !== undefined ? { adoptFleetIncidents } : {}),
  });
  const state = new RedisDetectionState({ redis, ruleset, commandTimeoutMs: 1_000, shutdownGraceMs: 0 });
  const engine = new DetectionEngine({
    rules: defaultRules(),
    allowedLatenessMs: LATENESS,
    state,
    sinks: [sink],
    onAlert: (a) => alerts.push(a),
  });
  return { engine, alerts, sink };
}

const blocks = (user: string, from: number, n: number) =>
  Array.from({ length: n }, (_, s) =>
    ev({ at: from + s * SEC, category: 'guardrail_block', user, id: `${user}-${from + s * SEC}` }),
  );

/**
 * a fires the user's incidents (Alertmanager has them active), then b's sweep resolves them
 * and its resolves are delivered (b's forceFlush flushes its sink).
 */
async function firedByAResolvedByB(
  a: ReturnType<typeof replica>,
  b: ReturnType<typeof replica>,
  user: string,
  beforeResolve: () => void = () => undefined,
): Promise<void> {
  for (const { event, t } of blocks(user, T0, 10)) a.engine.ingest(event, t);
  a.engine.advanceTo(T0 + 10 * SEC + LATENESS);
  await a.engine.forceFlush();
  const mine = (alerts: Alert[]) => alerts.filter((x) => x.labels.user_id === user);
  expect(mine(a.alerts).length).toBeGreaterThan(0);
  expect(mine(a.alerts).every((x) => x.status === 'firing')).toBe(true);
  await until(async () => (await activeFor(user)) > 0, 5_000, 50);
  beforeResolve();
  b.engine.advanceTo(T0 + 30 * MIN);
  await b.engine.forceFlush();
  // b resolved every one of them; a heard nothing and still holds them for re-sending.
  expect(
    mine(b.alerts)
      .map((x) => x.status)
      .sort(),
  ).toEqual(mine(a.alerts).map(() => 'resolved'));
  expect(new Set(mine(b.alerts).map((x) => x.alert_id))).toEqual(
    new Set(mine(a.alerts).map((x) => x.alert_id)),
  );
}

describe('an incident fired by one replica and resolved by another, one Alertmanager', () => {
  const db = useRedis({ clients: 3 });

  it('stays resolved: the firing replica asks the fleet before re-sending', async () => {
    const ruleset = freshRuleset('fleet-resolve');
    const a = replica(db.clients[0]!, ruleset);
    const b = replica(db.clients[1]!, ruleset);
    await firedByAResolvedByB(a, b, 'alice');
    await until(async () => (await activeFor('alice')) === 0, 5_000, 50);
    // Four re-send intervals: never active again, and a's copy is gone.
    const until4 = Date.now() + 4 * RESEND_MS;
    while (Date.now() < until4) {
      expect(await activeFor('alice')).toBe(0);
      await sleep(100);
    }
    expect(a.sink.firingCount).toBe(0);
    await Promise.all([a.engine.shutdown(), b.engine.shutdown()]);
  }, 30_000);

  it('a later incident of the group (same labels: the same Alertmanager alert) is not ended by the old copy', async () => {
    const ruleset = freshRuleset('fleet-resolve-reopen');
    // No adoption: a (the lease's holder) would otherwise adopt b's later incidents, and its
    // firing count would not tell whether it dropped the old copies.
    const a = replica(db.clients[0]!, ruleset, undefined, RESEND_MS, false);
    // b does not re-send within the test: what Alertmanager shows is what a's check leaves.
    const b = replica(db.clients[1]!, ruleset, undefined, 60_000);
    await firedByAResolvedByB(a, b, 'erin');
    // Before a's next check: erin attacks again, b opens the later incidents and fires them.
    const again = T0 + 30 * MIN;
    for (const { event, t } of blocks('erin', again, 10)) b.engine.ingest(event, t);
    b.engine.advanceTo(again + 10 * SEC + LATENESS);
    await b.engine.forceFlush();
    const later = b.alerts.filter((x) => x.labels.user_id === 'erin' && x.status === 'firing');
    expect(later.length).toBeGreaterThan(0);
    expect(later.every((x) => Date.parse(x.starts_at) >= again)).toBe(true);
    await until(async () => (await activeFor('erin')) === later.length, 5_000, 50);
    // a's checks find the group holding the later incidents: a drops its old copies without a
    // resolve (which, same labels, would end the later ones in Alertmanager).
    const until4 = Date.now() + 4 * RESEND_MS;
    while (Date.now() < until4) {
      expect(await activeFor('erin')).toBe(later.length);
      await sleep(100);
    }
    expect(a.sink.firingCount).toBe(0);
    await Promise.all([a.engine.shutdown(), b.engine.shutdown()]);
  }, 30_000);

  it("users another replica added to the incident reach Alertmanager through the firing replica's re-send", async () => {
    const ruleset = freshRuleset('fleet-update');
    const a = replica(db.clients[0]!, ruleset);
    const b = replica(db.clients[1]!, ruleset);
    const campaign = Array.from({ length: 7 }, (_, i) =>
      ev(block(T0 + i * SEC, `camp-${i + 1}`, 'injection', 'Ignore previous instructions (fleet update)')),
    );
    // Five accounts through a: it fires the campaign.
    for (const { event, t } of campaign.slice(0, 5)) a.engine.ingest(event, t);
    a.engine.advanceTo(T0 + 4 * SEC + LATENESS);
    await a.engine.forceFlush();
    const fired = a.alerts.filter((x) => x.rule === 'coordinated_campaign');
    expect(fired.map((x) => [x.status, x.user_ids.length])).toEqual([['firing', 5]]);
    // Two more through b: they join a's incident (b's sink holds no copy to update).
    for (const { event, t } of campaign.slice(5)) b.engine.ingest(event, t);
    b.engine.advanceTo(T0 + 6 * SEC + LATENESS);
    await b.engine.forceFlush();
    const users = async () => {
      const filter = encodeURIComponent('alertname="coordinated_campaign"');
      const list = (await (await fetch(`${am.url}/api/v2/alerts?filter=${filter}`)).json()) as {
        annotations: Record<string, string>;
        labels: Record<string, string>;
      }[];
      const mine = list.filter((x) => x.labels.fingerprint === fired[0]!.labels.fingerprint);
      return mine.length === 1 ? mine[0]!.annotations.user_ids!.split(', ').length : -1;
    };
    await until(async () => (await users()) === 7, 3 * RESEND_MS, 50);
    await Promise.all([a.engine.shutdown(), b.engine.shutdown()]);
  }, 30_000);

  it('without the check (fleetCheck: false) the re-sent firing copy makes it active again', async () => {
    const ruleset = freshRuleset('fleet-resolve-off');
    const a = replica(db.clients[0]!, ruleset, false);
    const b = replica(db.clients[1]!, ruleset);
    await firedByAResolvedByB(a, b, 'bob');
    await until(async () => (await activeFor('bob')) > 0, 3 * RESEND_MS, 50);
    expect(a.sink.firingCount).toBeGreaterThan(0);
    await Promise.all([a.engine.shutdown(), b.engine.shutdown()]);
  }, 30_000);

  it('keeps re-sending when the check cannot read the state (never resolves on a failed check)', async () => {
    const ruleset = freshRuleset('fleet-resolve-down');
    const a = replica(db.clients[2]!, ruleset);
    const b = replica(db.clients[1]!, ruleset);
    // a's Redis connection goes away before b resolves: a's check fails, so it keeps what it
    // has and re-sends it.
    await firedByAResolvedByB(a, b, 'carol', () => db.clients[2]!.disconnect());
    await until(async () => (await activeFor('carol')) > 0, 3 * RESEND_MS + 10_000, 50);
    expect(a.sink.firingCount).toBeGreaterThan(0);
    await Promise.all([a.engine.shutdown(), b.engine.shutdown()]);
  }, 40_000);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
