import { afterEach, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { until } from '../../../test/support/until.ts';
import { AlertmanagerSink } from '../src/sinks/alertmanager.ts';
import type { AlertmanagerAlert } from '../src/sinks/alertmanager-payload.ts';
import type { FleetIncidentCheck } from '../src/sinks/types.ts';
import { alert, fakeFetch, resolved } from './sink-support.ts';

/**
 * The adoption lease holder's listing of the fleet's open incidents is a Redis round trip. An
 * incident this sink resolved while the listing was out (its engine's sweep closed it) was read
 * open by it, and was adopted again: sent firing after its resolve, and re-sent as long as the
 * fleet check answered before the close. Seen as redis-fleet-adopt-alertmanager's "nothing
 * re-fires them" failing at load ~29 (Alertmanager showed the resolved incident active again).
 */

const CLOCK_NOW = Date.parse('2030-01-01T00:00:00.000Z');
const sinks: AlertmanagerSink[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.shutdown()));
});

it('an incident resolved while an adoption listing is out is not adopted again from that listing', async () => {
  const { fetch, calls } = fakeFetch(() => 200);
  const sink = new AlertmanagerSink({
    urls: ['http://am:9093'],
    fetch,
    resendIntervalMs: 20,
    backoff: { initialMs: 1, maxMs: 5 },
    clock: { now: () => CLOCK_NOW },
  });
  sinks.push(sink);
  const x = alert({ alert_id: 'ALR-adopted' });
  // The first listing finds x (another process fired it); the second is held until the test
  // lets it answer, with x still open as it read it; later ones find nothing.
  let listings = 0;
  let answerHeld: ((open: Alert[]) => void) | undefined;
  const check: FleetIncidentCheck = {
    closed: () => Promise.resolve({ ended: new Set(), superseded: new Set(), users: new Map() }),
    adopt: () => {
      listings++;
      if (listings === 1) return Promise.resolve([x]);
      if (listings === 2) return new Promise<Alert[]>((r) => (answerHeld = r));
      return Promise.resolve([]);
    },
  };
  sink.useFleet(check);
  const posted = () => calls.flatMap((c) => c.body as AlertmanagerAlert[]);
  const firingPosts = () => posted().filter((a) => Date.parse(a.endsAt ?? '') > CLOCK_NOW).length;
  await until(() => firingPosts() > 0 && answerHeld !== undefined, 30_000);
  // This process's sweep resolves it while the listing is out.
  sink.send(resolved(x));
  await until(() => posted().some((a) => Date.parse(a.endsAt ?? '') < CLOCK_NOW), 30_000);
  const firingBefore = firingPosts();
  answerHeld!([x]);
  // Two more listings: the held one's answer has been taken, and re-sends have had their turn.
  const seen = listings;
  await until(() => listings >= seen + 2, 30_000);
  await sink.forceFlush();
  expect(sink.firingCount).toBe(0);
  expect(firingPosts()).toBe(firingBefore);
});
