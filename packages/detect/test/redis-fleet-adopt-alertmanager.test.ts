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
 * saw it. Alertmanager's resolve_timeout is 5 s and the sinks re-send every second: with
 * adoption, b (the lease's holder once a's lease lapses, two intervals) re-sends the open
 * incident and Alertmanager keeps it active, the same alert a sent; b's sweep resolves it and
 * b's fleet check ends it there. Without adoption (adoptFleetIncidents: false, the behaviour
 * before) Alertmanager resolves it on its own while it is still open.
 */

const LATENESS = 5 * SEC;
const RESEND_MS = 1_000;
const RESOLVE_TIMEOUT_MS = 5_000;

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
  await until(async () => (await activeOf(user)).length === fired.length, 5_000, 50);
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
    // Three resolve_timeouts after a left: still active, and the very alerts a sent.
    const end = Date.now() + 3 * RESOLVE_TIMEOUT_MS;
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
    await until(async () => (await activeOf('dave')).length === 0, 3 * RESEND_MS, 50);
    const quiet = Date.now() + 3 * RESEND_MS;
    while (Date.now() < quiet) {
      expect(await activeOf('dave')).toEqual([]);
      await sleep(100);
    }
    await until(async () => b.sink.firingCount === 0, 3 * RESEND_MS, 50);
    await b.engine.shutdown();
  }, 60_000);

  it('a holder that dies (no stop, its lease left to expire) is taken over within resolve_timeout', async () => {
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
    await until(async () => (await activeOf('fay')).length === fired.length, 5_000, 50);
    // b starts after a holds the lease (a's first re-send took it), then a dies: its sink goes
    // quiet, its engine never stops, so the lease is not given up and must expire (2 intervals).
    await sleep(1.5 * RESEND_MS);
    const b = replica(db.clients[1]!, ruleset);
    const shown = await activeOf('fay');
    await a.sink.shutdown();
    const end = Date.now() + 3 * RESOLVE_TIMEOUT_MS;
    while (Date.now() < end) {
      expect(view(await activeOf('fay'))).toEqual(view(shown));
      await sleep(200);
    }
    expect(b.sink.firingCount).toBe(fired.length);
    await b.engine.shutdown();
    await a.engine.shutdown();
  }, 60_000);

  it('without adoption (adoptFleetIncidents: false) Alertmanager resolves them while they are open', async () => {
    const ruleset = freshRuleset('fleet-adopt-off');
    const a = replica(db.clients[0]!, ruleset, false);
    await firedByAThenALeaves(a, 'ed');
    const b = replica(db.clients[1]!, ruleset, false);
    await until(async () => (await activeOf('ed')).length === 0, 2 * RESOLVE_TIMEOUT_MS, 50);
    expect(b.sink.firingCount).toBe(0);
    await b.engine.shutdown();
  }, 60_000);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
