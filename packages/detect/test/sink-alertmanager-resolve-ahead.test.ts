import { afterEach, describe, expect, it } from 'vitest';
import { useAlertmanager } from '../../../test/support/alertmanager.ts';
import { until } from '../../../test/support/until.ts';
import { AlertmanagerSink, type AlertmanagerSinkOptions } from '../src/sinks/alertmanager.ts';
import type { FleetIncidentCheck } from '../src/sinks/types.ts';
import { alert, resolved } from './sink-support.ts';

/**
 * A resolve ends the alert in a real Alertmanager at once even when its endsAt is ahead of
 * Alertmanager's clock. Alertmanager merges a resolve whose endsAt has not passed yet as a
 * firing copy ending then, and keeps the firing copy's later endsAt (four intervals on, since
 * the sink stamps one): without the sink's care the alert stayed active up to four intervals
 * after its resolve. Two ways a resolve's end is ahead: the fleet check's resolve of an alert
 * that starts ahead of this process's clock (fired by a replica whose clock is ahead), and a
 * process whose clock is ahead of Alertmanager's (an engine resolve ends at its event time,
 * with allowed lateness 0 its clock's now).
 */

const RESEND_MS = 3_000;
const sinks: AlertmanagerSink[] = [];

const am = useAlertmanager({ resolveTimeout: '5m' });

afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.shutdown()));
});

function sink(options: Partial<AlertmanagerSinkOptions>): AlertmanagerSink {
  const s = new AlertmanagerSink({
    urls: [am.url],
    resendIntervalMs: RESEND_MS,
    flushTimeoutMs: 5_000,
    ...options,
  });
  sinks.push(s);
  return s;
}

async function active(user: string): Promise<boolean> {
  const filter = encodeURIComponent(`user_id="${user}"`);
  const res = await fetch(
    `${am.url}/api/v2/alerts?filter=${filter}&active=true&silenced=false&inhibited=false`,
  );
  const list = (await res.json()) as { status: { state: string } }[];
  return list.some((a) => a.status.state === 'active');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the alert is no longer active; fails if it still is `ms` after the call. Timed
 * from when each look was asked, not answered: Alertmanager reads its state after the ask, so
 * an alert it calls active was active then (a loaded host's slow answer does not count).
 */
async function endsWithin(user: string, ms: number): Promise<void> {
  const from = Date.now();
  for (;;) {
    const asked = Date.now();
    if (!(await active(user))) return;
    expect(asked - from, 'still active in Alertmanager after its resolve').toBeLessThan(ms);
    await sleep(100);
  }
}

describe('AlertmanagerSink: a resolve whose end is ahead of the clock', () => {
  it("the fleet check's resolve of an alert that starts ahead of this clock ends it at once", async () => {
    const user = 'start-ahead';
    let ended = false;
    /** Checks answered since the fleet ended it. */
    let endedAnswers = 0;
    const check: FleetIncidentCheck = {
      closed: async () => {
        if (ended) endedAnswers++;
        return { ended: new Set(ended ? ['ALR-ahead'] : []), superseded: new Set(), users: new Map() };
      },
    };
    const s = sink({});
    s.useFleet(check);
    // Fired by a replica whose clock is ahead of this one's (and Alertmanager's): its start is
    // still 3 s ahead when the check resolves it, at the first re-send.
    const startsAt = new Date(Date.now() + RESEND_MS + 3_000).toISOString();
    s.send(
      alert({ alert_id: 'ALR-ahead', labels: { user_id: user }, user_ids: [user], starts_at: startsAt }),
    );
    await s.forceFlush();
    expect(await active(user)).toBe(true);
    // The fleet ends it: the next re-send's check answers so and the sink sends the resolve.
    ended = true;
    await until(() => s.firingCount === 0, 20_000, 50);
    // By the first check that said so, however late a loaded host ran the re-send timer.
    expect(endedAnswers, 'the check resolves it at the next re-send').toBe(1);
    await s.forceFlush();
    // Its firing copy said endsAt start + 4 intervals (15 s from now): the resolve must win.
    await endsWithin(user, 1_500);
  }, 30_000);

  it("an engine's resolve from a process whose clock is ahead of Alertmanager's ends it at once", async () => {
    const user = 'clock-ahead';
    const ahead = (): number => Date.now() + 2_000;
    const s = sink({ clock: { now: ahead } });
    const a = alert({
      alert_id: 'ALR-clock',
      labels: { user_id: user },
      user_ids: [user],
      starts_at: new Date(ahead() - 60_000).toISOString(),
    });
    s.send(a);
    await s.forceFlush();
    expect(await active(user)).toBe(true);
    // Allowed lateness 0: the incident ends at its event time, this process's now.
    s.send(resolved(a, new Date(ahead()).toISOString()));
    await s.forceFlush();
    await endsWithin(user, 1_500);
  }, 30_000);
});
