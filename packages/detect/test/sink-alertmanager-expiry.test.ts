import { describe, expect, it } from 'vitest';
import { useAlertmanager } from '../../../test/support/alertmanager.ts';
import { AlertmanagerSink } from '../src/sinks/alertmanager.ts';
import { alert } from './sink-support.ts';

/**
 * A re-send interval above Alertmanager's resolve_timeout (here 3 s against 1 s; in production
 * e.g. 1h against the default 5m) on a real Alertmanager: the firing alert stays active between
 * re-sends, because each POST says how long it holds (endsAt four intervals on). Without an
 * endsAt, Alertmanager ended it resolve_timeout after each POST and it flapped. Once nobody
 * re-sends it (the process left), it still ends by itself.
 */

const RESOLVE_TIMEOUT_MS = 1_000;
const RESEND_MS = 3_000;

const am = useAlertmanager({ resolveTimeout: `${RESOLVE_TIMEOUT_MS / 1000}s` });

async function states(user: string): Promise<string[]> {
  const filter = encodeURIComponent(`user_id="${user}"`);
  const res = await fetch(`${am.url}/api/v2/alerts?filter=${filter}`);
  const list = (await res.json()) as { status: { state: string } }[];
  return list.map((a) => a.status.state);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('AlertmanagerSink: re-send interval above resolve_timeout', () => {
  it('keeps a firing alert active between re-sends, and lets it end once nobody re-sends it', async () => {
    const sink = new AlertmanagerSink({ urls: [am.url], resendIntervalMs: RESEND_MS, flushTimeoutMs: 5_000 });
    const user = 'slow-resend';
    // Started an hour ago (event time), as a detector's alerts usually are.
    const startsAt = new Date(Date.now() - 3_600_000).toISOString();
    sink.send(
      alert({ alert_id: 'ALR-slow', labels: { user_id: user }, user_ids: [user], starts_at: startsAt }),
    );
    await sink.forceFlush();
    // Three intervals, nine resolve_timeouts: active at every look. Over 20 looks however long
    // a loaded host takes to answer one (the sink goes on re-sending meanwhile).
    const end = Date.now() + 3 * RESEND_MS;
    let looks = 0;
    while (Date.now() < end || looks <= 20) {
      expect(await states(user)).toEqual(['active']);
      looks++;
      await sleep(100);
    }
    expect(looks).toBeGreaterThan(20);
    // The sink stops (its process left, nothing adopts): no resolve is sent, and Alertmanager
    // ends the alert at the last POST's endsAt, at most four intervals later.
    await sink.shutdown();
    // Timed from when each look was asked, not answered: Alertmanager reads its state after
    // the ask, so an alert it calls active was active then (a slow answer on a loaded host
    // counted against the bound).
    const left = Date.now();
    for (;;) {
      const asked = Date.now();
      if (!(await states(user)).includes('active')) break;
      expect(asked - left).toBeLessThan(4 * RESEND_MS + 2_000);
      await sleep(200);
    }
  }, 60_000);
});
