import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { AlertmanagerSink } from '../packages/detect/src/sinks/alertmanager.ts';
import type { FetchLike } from '../packages/detect/src/sinks/http-post.ts';
import {
  exampleConfigForTest,
  startAlertmanager,
  startWebhookReceiver,
  type AlertmanagerHandle,
  type WebhookNotification,
  type WebhookReceiver,
} from './support/alertmanager.ts';
import { getFreePort, waitUntil } from './support/ports.ts';

// A real Alertmanager (Debian prometheus-alertmanager) running the shipped example config,
// with its receivers pointed at a webhook receiver in this test and its group timings
// shortened. Repeat intervals stay as shipped (30m..4h), so any second notification for the
// same group within this test would be a duplicate.
const GROUP_INTERVAL_MS = 1_000;
const TRACE_TEMPLATE = 'http://localhost:16686/trace/{trace_id}';

let receiver: WebhookReceiver;
let config: string;
const sinks: AlertmanagerSink[] = [];
const managers: AlertmanagerHandle[] = [];

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  config = await exampleConfigForTest({
    receiverUrls: { chat: `${receiver.url}/chat`, pager: `${receiver.url}/pager` },
    // Mostly moot: these alerts start in the past (event time), and Alertmanager flushes a
    // new group at once when an alert's startsAt + group_wait has already passed.
    groupWait: '200ms',
    groupInterval: `${GROUP_INTERVAL_MS}ms`,
  });
});

afterAll(async () => {
  await Promise.all(sinks.map((s) => s.shutdown()));
  await Promise.all(managers.map((m) => m.stop()));
  await receiver?.close();
});

async function alertmanager(port?: number): Promise<AlertmanagerHandle> {
  const am = await startAlertmanager({ config, port });
  managers.push(am);
  return am;
}

function sink(urls: string[], fetchFn?: FetchLike): AlertmanagerSink {
  const s = new AlertmanagerSink({
    urls,
    resendIntervalMs: 250,
    backoff: { initialMs: 50, maxMs: 250 },
    timeoutMs: 2_000,
    flushTimeoutMs: 500,
    traceUrlTemplate: TRACE_TEMPLATE,
    ...(fetchFn ? { fetch: fetchFn } : {}),
  });
  sinks.push(s);
  return s;
}

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

function makeAlert(id: string, user: string, rule: string, severity: Alert['severity']): Alert {
  return {
    alert_id: id,
    rule,
    severity,
    status: 'firing',
    labels: { user_id: user },
    user_ids: [user],
    starts_at: new Date(Date.now() - 60_000).toISOString(),
    description: `${rule} fired for ${user}`,
    evidence: ['EVT-aaaaaaaaaaaa', 'EVT-bbbbbbbbbbbb'],
    trace_ids: [TRACE],
    title: rule.replaceAll('_', ' '),
    runbook_url: `https://runbooks.example/${rule}`,
    trigger: { trace_id: TRACE, span_id: '00f067aa0ba902b7' },
  };
}

// Ended in event time, behind the clock by the engine's allowed lateness (5 s by default): the
// sink posts such an end as it is (one less than 5 s old it moves back to 5 s before its clock).
const resolve = (a: Alert): Alert => ({
  ...a,
  status: 'resolved',
  ends_at: new Date(Date.now() - 10_000).toISOString(),
});

/** Notifications at `path` for the group of `user` (and `alertname` when given). */
function notificationsFor(path: string, user: string, alertname?: string): WebhookNotification[] {
  return receiver.notifications.filter(
    (n) =>
      n.path === path &&
      n.groupLabels.user_id === user &&
      (alertname === undefined || n.groupLabels.alertname === alertname),
  );
}

interface AmAlert {
  labels: Record<string, string>;
  updatedAt: string;
  status: { state: string; inhibitedBy: string[] };
}

async function alertsIn(am: AlertmanagerHandle, user: string): Promise<AmAlert[]> {
  const filter = encodeURIComponent(`user_id="${user}"`);
  const res = await fetch(`${am.url}/api/v2/alerts?filter=${filter}`);
  return (await res.json()) as AmAlert[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('AlertmanagerSink against a real Alertmanager', () => {
  it('delivers a firing alert once despite re-sends, then its resolve (a second, dead URL does not hold it up)', async () => {
    const am = await alertmanager();
    const dead = `http://127.0.0.1:${await getFreePort()}`;
    const s = sink([am.url, dead]);
    const a = makeAlert('ALR-fire-1', 'u-fire', 'rapid_guardrail_blocks', 'alert');
    s.send(a);

    await waitUntil(() => notificationsFor('/chat', 'u-fire').length > 0, { what: 'firing notification' });
    const [first] = notificationsFor('/chat', 'u-fire');
    expect(first?.status).toBe('firing');
    expect(first?.alerts).toHaveLength(1);
    const got = first?.alerts[0];
    expect(got?.labels).toEqual({
      alertname: 'rapid_guardrail_blocks',
      severity: 'alert',
      rule: 'rapid_guardrail_blocks',
      user_id: 'u-fire',
    });
    expect(got?.annotations).toMatchObject({
      summary: 'rapid guardrail blocks (user_id=u-fire)',
      description: 'rapid_guardrail_blocks fired for u-fire',
      runbook_url: 'https://runbooks.example/rapid_guardrail_blocks',
      evidence: 'EVT-aaaaaaaaaaaa, EVT-bbbbbbbbbbbb',
      trace_links: `http://localhost:16686/trace/${TRACE}`,
      user_ids: 'u-fire',
      alert_id: 'ALR-fire-1',
    });
    expect(got?.generatorURL).toBe(`http://localhost:16686/trace/${TRACE}`);
    expect(Date.parse(got?.startsAt ?? '')).toBe(Date.parse(a.starts_at));

    // Re-sends (the sink's own every 250 ms, plus the engine sending it again) reach
    // Alertmanager, which refreshes the alert; across several group intervals it must not
    // notify again.
    const updatedAt = async (): Promise<number> =>
      Date.parse((await alertsIn(am, 'u-fire'))[0]?.updatedAt ?? '');
    const before = await updatedAt();
    s.send(a);
    await waitUntil(async () => (await updatedAt()) > before, { what: 'a re-send to refresh the alert' });
    await sleep(3 * GROUP_INTERVAL_MS);
    expect(await updatedAt()).toBeGreaterThan(before);
    expect(notificationsFor('/chat', 'u-fire')).toHaveLength(1);
    expect(notificationsFor('/pager', 'u-fire')).toHaveLength(0);

    const r = resolve(a);
    s.send(r);
    await waitUntil(() => notificationsFor('/chat', 'u-fire').length > 1, { what: 'resolved notification' });
    const [, second] = notificationsFor('/chat', 'u-fire');
    expect(second?.status).toBe('resolved');
    expect(second?.alerts[0]?.status).toBe('resolved');
    expect(Date.parse(second?.alerts[0]?.endsAt ?? '')).toBe(Date.parse(r.ends_at ?? ''));
    expect(s.firingCount).toBe(0);
  });

  it('routes by severity (critical pages and chats) and inhibits a warning of the same user', async () => {
    const am = await alertmanager();
    const s = sink([am.url]);
    // The critical alert first: with group_wait skipped (see above), a warning posted in the
    // same request can be flushed before Alertmanager's inhibitor has indexed its source.
    s.send(makeAlert('ALR-crit', 'u-crit', 'system_prompt_leakage', 'critical'));
    await waitUntil(async () => (await alertsIn(am, 'u-crit')).length === 1, { what: 'the critical alert' });
    s.send(makeAlert('ALR-warn-same', 'u-crit', 'rapid_guardrail_blocks', 'warning'));
    s.send(makeAlert('ALR-warn-other', 'u-other', 'rapid_guardrail_blocks', 'warning'));

    await waitUntil(
      () =>
        notificationsFor('/pager', 'u-crit').length > 0 &&
        notificationsFor('/chat', 'u-crit', 'system_prompt_leakage').length > 0 &&
        notificationsFor('/chat', 'u-other').length > 0,
      { what: 'critical to pager and chat, warning to chat' },
    );
    expect(notificationsFor('/pager', 'u-crit')[0]?.alerts[0]?.labels.severity).toBe('critical');
    expect(notificationsFor('/pager', 'u-other')).toHaveLength(0);

    const warning = (await alertsIn(am, 'u-crit')).find((x) => x.labels.severity === 'warning');
    expect(warning?.status.state).toBe('suppressed');
    expect(warning?.status.inhibitedBy.length).toBe(1);
    await sleep(2 * GROUP_INTERVAL_MS);
    expect(notificationsFor('/chat', 'u-crit', 'rapid_guardrail_blocks')).toHaveLength(0);
  });

  it('delivers alerts sent while Alertmanager was down once it is up, and restores them after a restart', async () => {
    const port = await getFreePort();
    let attempts = 0;
    const counting: FetchLike = async (url, init) => {
      attempts++;
      return await fetch(url, init);
    };
    const s = sink([`http://127.0.0.1:${port}`], counting);
    s.send(makeAlert('ALR-late', 'u-late', 'output_filter_escalation', 'alert'));
    await waitUntil(() => attempts >= 2, { what: 'failed delivery attempts' });
    expect(notificationsFor('/chat', 'u-late')).toHaveLength(0);

    const am = await alertmanager(port);
    await waitUntil(() => notificationsFor('/chat', 'u-late').length > 0, {
      what: 'late firing notification',
    });
    expect(notificationsFor('/chat', 'u-late')[0]?.alerts[0]?.annotations.alert_id).toBe('ALR-late');

    // Alertmanager keeps alerts in memory only: after a restart it knows nothing until the
    // sink's next re-send.
    await am.restart();
    await waitUntil(async () => (await alertsIn(am, 'u-late')).length === 1, {
      what: 're-send after restart',
    });
  });
});
