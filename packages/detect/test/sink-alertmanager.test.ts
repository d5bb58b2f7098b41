import { afterEach, describe, expect, it } from 'vitest';
import { AlertmanagerSink, type AlertmanagerSinkOptions } from '../src/sinks/alertmanager.ts';
import type { AlertmanagerAlert } from '../src/sinks/alertmanager-payload.ts';
import { alert, fakeFetch, resolved, testMetrics, type FetchCall } from './sink-support.ts';

const METRIC = 'llmsec.alert.notifications';
const sinks: AlertmanagerSink[] = [];

function sink(options: AlertmanagerSinkOptions): AlertmanagerSink {
  const s = new AlertmanagerSink({ backoff: { initialMs: 1, maxMs: 5 }, flushTimeoutMs: 2_000, ...options });
  sinks.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.shutdown()));
});

const alertsOf = (calls: FetchCall[], url?: string): AlertmanagerAlert[] =>
  calls
    .filter((c) => c.status === 200 && (url === undefined || c.url === url))
    .flatMap((c) => c.body as AlertmanagerAlert[]);

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 3_000 && !check(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(check()).toBe(true);
}

describe('AlertmanagerSink', () => {
  it('POSTs to /api/v2/alerts of every URL, and one URL down does not hold up the others (HA)', async () => {
    let secondUp = false;
    const { fetch, calls } = fakeFetch((url) => (url.startsWith('http://am-2') && !secondUp ? 0 : 200));
    const metrics = testMetrics();
    const s = sink({
      urls: ['http://am-1:9093', 'http://am-2:9093/', 'http://am-3:9093/prefix'],
      fetch,
      meter: metrics.meter,
    });
    s.send(alert());
    await until(
      () => alertsOf(calls).length === 2 && calls.filter((c) => c.url.startsWith('http://am-2')).length >= 3,
    );
    expect(alertsOf(calls, 'http://am-1:9093/api/v2/alerts')).toHaveLength(1);
    expect(alertsOf(calls, 'http://am-3:9093/prefix/api/v2/alerts')).toHaveLength(1);
    expect(alertsOf(calls, 'http://am-2:9093/api/v2/alerts')).toHaveLength(0);
    // The resolve reaches the healthy ones at once; the down one gets the latest state later
    // (its peers got the firing: the cluster paged, so a plain resolve).
    s.send(resolved(alert()));
    await until(() => alertsOf(calls, 'http://am-1:9093/api/v2/alerts').length === 2);
    secondUp = true;
    await s.forceFlush();
    const second = alertsOf(calls, 'http://am-2:9093/api/v2/alerts');
    expect(second).toHaveLength(1);
    expect(second[0]?.endsAt).toBe('2026-11-22T10:10:00.000Z');
    expect(second[0]?.annotations.resolved_at).toBeUndefined();
    expect(await metrics.sum(METRIC, { sink: 'alertmanager', outcome: 'sent' })).toBe(5);
  });

  it('re-sends firing alerts every resendIntervalMs, a resolve once, and then stops re-sending it', async () => {
    const { fetch, calls } = fakeFetch(() => 200);
    const now = Date.parse('2026-12-01T00:00:00.000Z');
    const s = sink({ urls: ['http://am:9093'], fetch, resendIntervalMs: 10, clock: { now: () => now } });
    s.send(alert({ alert_id: 'A' }));
    s.send(alert({ alert_id: 'B', labels: { user_id: 'u2' }, user_ids: ['u2'] }));
    expect(s.firingCount).toBe(2);
    await until(() => alertsOf(calls).filter((a) => a.annotations.alert_id === 'B').length >= 3);
    s.send(resolved(alert({ alert_id: 'A' })));
    expect(s.firingCount).toBe(1);
    await s.forceFlush();
    const seenA = (): number => alertsOf(calls).filter((a) => a.annotations.alert_id === 'A').length;
    const aAfterResolve = seenA();
    const bNow = alertsOf(calls).filter((a) => a.annotations.alert_id === 'B').length;
    await until(() => alertsOf(calls).filter((a) => a.annotations.alert_id === 'B').length >= bNow + 3);
    expect(seenA()).toBe(aAfterResolve);
    const lastA = alertsOf(calls)
      .filter((a) => a.annotations.alert_id === 'A')
      .at(-1);
    expect(lastA?.endsAt).toBe('2026-11-22T10:10:00.000Z');
    // Every firing (re-)send carries startsAt, and endsAt four intervals after the POST: active
    // that long in Alertmanager whatever its resolve_timeout.
    for (const a of alertsOf(calls).filter((x) => x.annotations.alert_id === 'B')) {
      expect(a.startsAt).toBe('2026-11-22T10:00:00.000Z');
      expect(a.endsAt).toBe(new Date(now + 4 * 10).toISOString());
    }
  });

  it("a firing alert that starts ahead of the sink's clock ends four intervals after its start", async () => {
    // Alertmanager refuses an endsAt before startsAt (the whole POST), and event time can be
    // ahead of this clock (an app's clock ahead of the detector's).
    const { fetch, calls } = fakeFetch(() => 200);
    const now = Date.parse('2026-11-22T09:00:00.000Z');
    const s = sink({ urls: ['http://am:9093'], fetch, resendIntervalMs: 1_000, clock: { now: () => now } });
    s.send(alert());
    await s.forceFlush();
    expect(alertsOf(calls).map((a) => a.endsAt)).toEqual(['2026-11-22T10:00:04.000Z']);
  });

  it('a firing alert starting at the last time a Date holds is posted, with the batch beside it', async () => {
    // Event time is the sender's: start + 4 intervals past 8.64e15 is no Date, and its
    // toISOString threw in every attempt, failing the other alerts of its batch too.
    const { fetch, calls } = fakeFetch(() => 200);
    const s = sink({ urls: ['http://am:9093'], fetch, resendIntervalMs: 1_000 });
    const last = new Date(8.64e15).toISOString();
    s.send(alert({ alert_id: 'far', starts_at: last }));
    s.send(alert({ alert_id: 'near', labels: { user_id: 'u2' } }));
    await s.forceFlush();
    expect(alertsOf(calls).map((a) => [a.startsAt, a.endsAt])).toEqual([
      [last, last],
      ['2026-11-22T10:00:00.000Z', expect.any(String)],
    ]);
  });

  it('a resolve ends 5 s before the clock at the latest, its start moved back with it', async () => {
    // Alertmanager merges a resolve whose endsAt has not passed on its clock as a firing copy
    // ending then, and keeps the firing copy's later endsAt (see
    // sink-alertmanager-resolve-ahead.test.ts, on a real Alertmanager).
    const { fetch, calls } = fakeFetch(() => 200);
    const now = Date.parse('2026-11-22T10:05:00.000Z');
    const s = sink({ urls: ['http://am:9093'], fetch, clock: { now: () => now } });
    const a = alert();
    s.send(resolved({ ...a, alert_id: 'past' }, '2026-11-22T10:04:55.000Z'));
    s.send(resolved({ ...a, alert_id: 'now', labels: { user_id: 'u2' } }, '2026-11-22T10:05:00.000Z'));
    s.send(
      resolved(
        { ...a, alert_id: 'ahead', labels: { user_id: 'u3' }, starts_at: '2026-11-22T10:05:02.000Z' },
        '2026-11-22T10:05:02.000Z',
      ),
    );
    await s.forceFlush();
    expect(alertsOf(calls).map((a) => [a.labels.user_id, a.startsAt, a.endsAt])).toEqual([
      // Already 5 s past: its own end, not moved.
      ['u1', '2026-11-22T10:00:00.000Z', '2026-11-22T10:04:55.000Z'],
      ['u2', '2026-11-22T10:00:00.000Z', '2026-11-22T10:04:55.000Z'],
      ['u3', '2026-11-22T10:04:55.000Z', '2026-11-22T10:04:55.000Z'],
    ]);
  });

  it('batches alerts raised together into one POST, most severe first', async () => {
    const { fetch, calls } = fakeFetch(() => 200);
    const s = sink({ urls: ['http://am:9093'], fetch });
    s.send(alert({ alert_id: 'W', severity: 'warning' }));
    s.send(alert({ alert_id: 'A', severity: 'alert' }));
    s.send(alert({ alert_id: 'C', severity: 'critical' }));
    await s.forceFlush();
    expect(calls).toHaveLength(1);
    expect((calls[0]?.body as AlertmanagerAlert[]).map((a) => a.annotations.alert_id)).toEqual([
      'C',
      'A',
      'W',
    ]);
  });

  it('bounds the firing set: the excess is sent once, not re-sent', async () => {
    const { fetch, calls } = fakeFetch(() => 200);
    const s = sink({ urls: ['http://am:9093'], fetch, resendIntervalMs: 10, maxFiring: 1 });
    s.send(alert({ alert_id: 'A' }));
    s.send(alert({ alert_id: 'B' }));
    expect(s.firingCount).toBe(1);
    await until(() => alertsOf(calls).filter((a) => a.annotations.alert_id === 'A').length >= 4);
    expect(alertsOf(calls).filter((a) => a.annotations.alert_id === 'B')).toHaveLength(1);
  });

  it.each([
    [
      { basic: { username: 'llmsec', password: 's3cr:et' } },
      `Basic ${Buffer.from('llmsec:s3cr:et').toString('base64')}`,
    ],
    [{ bearer: 'tok-123' }, 'Bearer tok-123'],
  ] as const)('sends the Authorization header for %j', async (auth, expected) => {
    const { fetch, calls } = fakeFetch(() => 200);
    const s = sink({ urls: ['http://am:9093'], fetch, auth, headers: { 'x-scope-orgid': 'team-a' } });
    s.send(alert());
    await s.forceFlush();
    expect(calls[0]?.headers).toMatchObject({
      authorization: expected,
      'x-scope-orgid': 'team-a',
      'content-type': 'application/json',
    });
  });

  it('sends no Authorization header without auth', async () => {
    const { fetch, calls } = fakeFetch(() => 200);
    const s = sink({ urls: ['http://am:9093'], fetch });
    s.send(alert());
    await s.forceFlush();
    expect(calls[0]?.headers.authorization).toBeUndefined();
  });

  it('rejects invalid configuration at construction', () => {
    const bad: [Partial<AlertmanagerSinkOptions>, RegExp][] = [
      [{ urls: [] }, /at least one/],
      [{ urls: ['not a url'] }, /urls\[0\] is not a URL/],
      [{ urls: ['ftp://am'] }, /http or https/],
      [{ urls: ['http://user:pw@am:9093'] }, /credentials/],
      [{ resendIntervalMs: 0 }, /resendIntervalMs must be a positive/],
      [{ maxQueue: -1 }, /maxQueue/],
      [{ backoff: { initialMs: 100, maxMs: 10 } }, /backoff.maxMs/],
      [{ traceUrlTemplate: 'http://jaeger/trace/' }, /\{trace_id\}/],
      [{ auth: { bearer: '' } }, /bearer/],
      [{ auth: { basic: { username: 'a:b', password: 'x' } } }, /username/],
    ];
    for (const [options, message] of bad) {
      expect(() => new AlertmanagerSink({ urls: ['http://am:9093'], ...options })).toThrow(message);
    }
  });

  it('never throws from send, and ignores sends after shutdown (idempotent)', async () => {
    const { fetch, calls } = fakeFetch(() => 200);
    const s = sink({ urls: ['http://am:9093'], fetch });
    expect(() => s.send({ ...alert(), labels: null } as unknown as ReturnType<typeof alert>)).not.toThrow();
    const first = s.shutdown();
    expect(s.shutdown()).toBe(first);
    await first;
    s.send(alert());
    await s.forceFlush();
    expect(calls).toHaveLength(0);
  });
});
