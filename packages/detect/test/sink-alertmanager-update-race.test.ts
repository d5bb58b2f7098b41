import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { activeAlertsFor, useAlertmanager } from '../../../test/support/alertmanager.ts';
import { until } from '../../../test/support/until.ts';
import { AlertmanagerSink } from '../src/sinks/alertmanager.ts';
import type { FleetIncidentCheck } from '../src/sinks/types.ts';
import { alert, resolved } from './sink-support.ts';

/**
 * The join race past a resolve (sinks README, Updates), against a real Alertmanager: replica a
 * fired an incident, a user joined it through replica b, whose sink holds no copy and posts the
 * update at once. That post failed (Alertmanager unreachable from b), a resolved the incident
 * meanwhile, and b's retry then posted the firing copy after the resolve: Alertmanager showed
 * the alert active again until its endsAt (four re-send intervals). Now b posts another
 * process's incident once and does not retry it (a's re-send carries the users).
 */

const am = useAlertmanager();

/** In front of Alertmanager for b: answers 503 while `down`, else forwards the POST. */
let gate: Server;
let down = true;
let refused = 0;
let gateUrl = '';

beforeAll(async () => {
  gate = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (down) {
        refused++;
        res.writeHead(503).end();
        return;
      }
      fetch(`${am.url}${req.url}`, {
        method: req.method,
        headers: { 'content-type': 'application/json' },
        body: Buffer.concat(chunks),
      }).then(
        async (r) => res.writeHead(r.status).end(await r.text()),
        () => res.writeHead(502).end(),
      );
    });
  });
  await new Promise<void>((resolve) => gate.listen(0, '127.0.0.1', resolve));
  gateUrl = `http://127.0.0.1:${(gate.address() as AddressInfo).port}`;
});

afterAll(async () => {
  gate.closeAllConnections();
  await new Promise<void>((resolve) => gate.close(() => resolve()));
});

const sinks: AlertmanagerSink[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.shutdown()));
});

function sink(url: string): AlertmanagerSink {
  const s = new AlertmanagerSink({
    urls: [url],
    resendIntervalMs: 600_000,
    flushTimeoutMs: 5_000,
    backoff: { initialMs: 20, maxMs: 50 },
  });
  sinks.push(s);
  return s;
}

/** The fleet holds every incident open (b's update is for a live incident when posted). */
const openFleet: FleetIncidentCheck = {
  closed: async () => ({ ended: new Set(), superseded: new Set(), users: new Map() }),
};

describe('an update posted by a replica that did not fire the incident', () => {
  it('is not retried past the firing replica’s resolve', async () => {
    const user = `race-${process.pid}`;
    const fired = alert({
      alert_id: 'ALR-race',
      labels: { user_id: user },
      user_ids: [user],
      starts_at: new Date(Date.now() - 60_000).toISOString(),
    });
    const a = sink(am.url);
    const b = sink(gateUrl);
    b.useFleet(openFleet);
    a.send(fired);
    await until(async () => (await activeAlertsFor(am, user)) === 1, 10_000);

    down = true;
    b.update({ ...fired, user_ids: [user, `${user}-2`] });
    await until(() => refused >= 1, 10_000);
    a.send(resolved(fired, new Date().toISOString()));
    await until(async () => (await activeAlertsFor(am, user)) === 0, 10_000);

    // Alertmanager reachable from b again: before, b's retry posted the firing copy now.
    down = false;
    await until(() => b.pendingCount === 0, 10_000);
    expect(await activeAlertsFor(am, user)).toBe(0);
  });

  it('a replica’s update of its own incident is still retried until delivered', async () => {
    const user = `own-${process.pid}`;
    const fired = alert({
      alert_id: 'ALR-own',
      labels: { user_id: user },
      user_ids: [user],
      starts_at: new Date(Date.now() - 60_000).toISOString(),
    });
    down = false;
    const b = sink(gateUrl);
    b.useFleet(openFleet);
    b.send(fired);
    await until(async () => (await activeAlertsFor(am, user)) === 1, 10_000);
    down = true;
    const before = refused;
    b.update({ ...fired, user_ids: [user, `${user}-2`] });
    await until(() => refused >= before + 2, 10_000);
    down = false;
    await until(() => b.pendingCount === 0, 10_000);
    const res = await fetch(`${am.url}/api/v2/alerts?filter=${encodeURIComponent(`user_id="${user}"`)}`);
    const [shown] = (await res.json()) as { annotations: Record<string, string> }[];
    expect(shown?.annotations.user_ids).toContain(`${user}-2`);
  });
});
