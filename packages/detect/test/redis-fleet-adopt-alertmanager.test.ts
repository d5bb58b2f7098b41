import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useAlertmanager } from '../../../test/support/alertmanager.ts';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { AlertmanagerSink, defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';
import { until } from '../../../test/support/until.ts';

/**
 * Replica a fires an incident and leaves (shutdown: the incident stays open in Redis); b never
 * saw it. Alertmanager's resolve_timeout is 5 s and the sinks re-send every 2.5 s: with
 * adoption, b (the lease's holder once a's lease lapses, two intervals) re-sends the open
 * incident and Alertmanager keeps it active, the same alert a sent; b's sweep resolves it and
 * b's fleet check ends it there. Without adoption (adoptFleetIncidents: false, the behaviour
 * before) Alertmanager resolves it on its own while it is still open.
 */

const LATENESS = 5 * SEC;
// Each POST holds the alert active four intervals and a lease lapses two intervals after its
// holder's last renewal, so a dead holder's alert is re-sent by b at most three intervals after
// its last copy: one interval (2.5 s) to spare, for a loaded host's late timers (1 s was tight).
const RESEND_MS = 2_500;
const RESOLVE_TIMEOUT_MS = 5_000;
/** How long the alert must stay active after a leaves: past a's last copy's end by two intervals. */
const WATCH_MS = 6 * RESEND_MS;
/** A bound on a hang only (Alertmanager showing or ending what it was sent). */
const HANG_MS = 30_000;

const am = useAlertmanager({ resolveTimeout: `${RESOLVE_TIMEOUT_MS / 1000}s` });

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  status: { state: string };
}

async function activeOf(user: string): Promise<AmAlert[]> {
  const filter = encodeURIComponent(`user_id="${user}"`);
  const res = await fetch(`${am.url}/api/v2/alerts?active=true&filter=${filter}`);
  const list = (await res.json()) as AmAlert[];
  return list.filter((a) => a.status.state === 'active');
}

const view = (list: AmAlert[]) =>
  list
    .map((a) => JSON.stringify({ labels: a.labels, annotations: a.annotations, startsAt: a.startsAt }))
    .sort();

function replica(redis: Redis, ruleset: string, adoptFleetIncidents?: boolean) {
  const alerts: Alert[] = [];
  const sink = new AlertmanagerSink({
    urls: [am.url],
    resendIntervalMs: RESEND_MS,
    flushTimeoutMs: 5_000,
    ...(adoptFleetIncidents !== undefined ? { adoptFleetIncidents } : {}),
  });
  // A Redis call slower than this sends the engine local (degraded), and this test is not about
  // that: a loaded host's slow reply must not take the incident out of the shared state.
  const state = new RedisDetectionState({ redis, ruleset, commandTimeoutMs: 5_000, shutdownGraceMs: 0 });
  const engine = new DetectionEngine({
    rules: defaultRules(),
    allowedLatenessMs: LATENESS,
    state,
    sinks: [sink],
    onAlert: (a) => alerts.push(a),
  });
  return { engine, alerts, sink, state };
}

/** a fires the user's incidents, Alertmanager shows them (returned), then a leaves. */
async function firedByAThenALeaves(a: ReturnType<typeof replica>, user: string): Promise<AmAlert[]> {
  for (let s = 0; s < 10; s++) {
    const { event, t } = ev({ at: T0 + s * SEC, category: 'guardrail_block', user, id: `${user}-${s}` });
    a.engine.ingest(event, t);
  }
  a.engine.advanceTo(T0 + 10 * SEC + LATENESS);
  await a.engine.forceFlush();
  const fired = a.alerts.filter((x) => x.labels.user_id === user);
  expect(fired.length).toBeGreaterThan(0);
  expect(fired.every((x) => x.status === 'firing')).toBe(true);
  await until(async () => (await activeOf(user)).length === fired.length, HANG_MS, 50);
  const shown = await activeOf(user);
  await a.engine.shutdown();
  // Leaving resolves nothing: the incidents stay open in Redis for the fleet.
  expect(a.alerts.filter((x) => x.labels.user_id === user && x.status === 'resolved')).toEqual([]);
  return shown;
}

describe('a replica that left: its open incidents stay active in Alertmanager', () => {
  const db = useRedis({ clients: 2 });

  it('b adopts them (the same alerts a sent) and resolves them when its sweep closes them', async () => {
    const ruleset = freshRuleset('fleet-adopt');
    const a = replica(db.clients[0]!, ruleset);
    const shown = await firedByAThenALeaves(a, 'dave');
    const b = replica(db.clients[1]!, ruleset);
    // Past the end of a's last copy: still active, and the very alerts a sent.
    const end = Date.now() + WATCH_MS;
    while (Date.now() < end) {
      expect(view(await activeOf('dave'))).toEqual(view(shown));
      await sleep(200);
    }
    expect(b.sink.firingCount).toBe(shown.length);
    // b's sweep resolves them: Alertmanager ends them, and nothing re-fires them.
    b.engine.advanceTo(T0 + 30 * MIN);
    await b.engine.forceFlush();
    expect(b.alerts.filter((x) => x.labels.user_id === 'dave').map((x) => x.status)).toEqual(
      shown.map(() => 'resolved'),
    );
    await until(async () => (await activeOf('dave')).length === 0, HANG_MS, 50);
    const quiet = Date.now() + 3 * RESEND_MS;
    while (Date.now() < quiet) {
      expect(await activeOf('dave')).toEqual([]);
      await sleep(100);
    }
    await until(async () => b.sink.firingCount === 0, HANG_MS, 50);
    await b.engine.shutdown();
  }, 120_000);

  it('a holder that dies (no stop, its lease left to expire) is taken over before its last copy ends', async () => {
    const ruleset = freshRuleset('fleet-adopt-crash');
    const a = replica(db.clients[0]!, ruleset);
    for (let s = 0; s < 10; s++) {
      const { event, t } = ev({ at: T0 + s * SEC, category: 'guardrail_block', user: 'fay', id: `fay-${s}` });
      a.engine.ingest(event, t);
    }
    a.engine.advanceTo(T0 + 10 * SEC + LATENESS);
    await a.engine.forceFlush();
    const fired = a.alerts.filter((x) => x.labels.user_id === 'fay');
    expect(fired.length).toBeGreaterThan(0);
    await until(async () => (await activeOf('fay')).length === fired.length, HANG_MS, 50);
    // b starts after a holds the lease (a's first re-send took it: awaited, the lease key exists
    // and a is the only process), then a dies: its sink goes quiet, its engine never stops, so
    // the lease is not given up and must expire (2 intervals).
    const lease = a.state.adoptionLeaseKey(ruleset);
    await until(async () => (await db.clients[0]!.exists(lease)) === 1, HANG_MS, 20);
    const b = replica(db.clients[1]!, ruleset);
    const shown = await activeOf('fay');
    await a.sink.shutdown();
    const end = Date.now() + WATCH_MS;
    while (Date.now() < end) {
      expect(view(await activeOf('fay'))).toEqual(view(shown));
      await sleep(200);
    }
    expect(b.sink.firingCount).toBe(fired.length);
    await b.engine.shutdown();
    await a.engine.shutdown();
  }, 120_000);

  it('without adoption (adoptFleetIncidents: false) Alertmanager resolves them while they are open', async () => {
    const ruleset = freshRuleset('fleet-adopt-off');
    const a = replica(db.clients[0]!, ruleset, false);
    await firedByAThenALeaves(a, 'ed');
    const b = replica(db.clients[1]!, ruleset, false);
    await until(async () => (await activeOf('ed')).length === 0, HANG_MS, 50);
    expect(b.sink.firingCount).toBe(0);
    await b.engine.shutdown();
  }, 120_000);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
