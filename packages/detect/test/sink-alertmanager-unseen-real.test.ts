import { afterEach, describe, expect, it } from 'vitest';
import {
  startAlertmanager,
  startWebhookReceiver,
  type AlertmanagerHandle,
  type WebhookReceiver,
} from '../../../test/support/alertmanager.ts';
import { getFreePort } from '../../../test/support/ports.ts';
import { until } from '../../../test/support/until.ts';
import { AlertmanagerSink } from '../src/sinks/alertmanager.ts';
import { alert, resolved } from './sink-support.ts';

/**
 * On a real Alertmanager with a webhook receiver: an incident that opened and closed before its
 * firing reached Alertmanager still pages (a firing notification), then resolves when its hold
 * ends. Alertmanager notifies a resolve only for an alert it notified firing: before the
 * unseen-incident hold, both cases below reached the receiver as nothing at all.
 */

const HOLD_MS = 3_000;
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

function config(receiverUrl: string): string {
  return [
    'route:',
    '  receiver: hook',
    "  group_by: ['alertname', 'user_id']",
    '  group_wait: 1s',
    '  group_interval: 1s',
    '  repeat_interval: 1h',
    'receivers:',
    '  - name: hook',
    '    webhook_configs:',
    `      - url: ${receiverUrl}`,
    '        send_resolved: true',
    '',
  ].join('\n');
}

async function setup(startNow: boolean): Promise<{
  receiver: WebhookReceiver;
  sink: AlertmanagerSink;
  start: () => Promise<AlertmanagerHandle>;
}> {
  const receiver = await startWebhookReceiver();
  cleanup.push(() => receiver.close());
  const port = await getFreePort();
  const start = async (): Promise<AlertmanagerHandle> => {
    const am = await startAlertmanager({ config: config(receiver.url), port });
    cleanup.push(() => am.stop());
    return am;
  };
  if (startNow) await start();
  const sink = new AlertmanagerSink({
    urls: [`http://127.0.0.1:${port}`],
    unseenIncidentHoldMs: HOLD_MS,
    backoff: { initialMs: 50, maxMs: 200 },
    flushTimeoutMs: 10_000,
  });
  cleanup.push(() => sink.shutdown());
  return { receiver, sink, start };
}

/** The statuses the receiver was notified of for `user`, in order. */
function notified(receiver: WebhookReceiver, user: string): string[] {
  return receiver.notifications.flatMap((n) =>
    n.alerts.filter((a) => a.labels.user_id === user).map((a) => a.status),
  );
}

// Polls bound a hang only: Alertmanager notifies within its 1 s group timings once it has the
// alert; a loaded host may take far longer.
const WAIT_MS = 120_000;

describe('AlertmanagerSink on a real Alertmanager: an incident it never saw firing', () => {
  it('firing and resolve sent together (a backlog of old events) page, then resolve', async () => {
    const { receiver, sink } = await setup(true);
    const user = 'backlog-user';
    const a = alert({ alert_id: 'ALR-backlog', labels: { user_id: user }, user_ids: [user] });
    sink.send(a);
    sink.send(resolved(a, new Date(Date.now() - 60_000).toISOString()));
    await sink.forceFlush();
    await until(() => notified(receiver, user).includes('firing'), WAIT_MS);
    const page = receiver.notifications
      .flatMap((n) => n.alerts)
      .find((x) => x.labels.user_id === user && x.status === 'firing');
    expect(page?.annotations.resolved_at).toBeDefined();
    await until(() => notified(receiver, user).includes('resolved'), WAIT_MS);
    expect(notified(receiver, user)[0]).toBe('firing');
  });

  it('an incident that opened and closed while Alertmanager was down pages once it is up', async () => {
    const { receiver, sink, start } = await setup(false);
    const user = 'outage-user';
    const a = alert({ alert_id: 'ALR-outage', labels: { user_id: user }, user_ids: [user] });
    sink.send(a); // tried and refused (nothing listens), then retried: waiting in the queue
    sink.send(resolved(a, new Date().toISOString()));
    await start();
    await sink.forceFlush();
    await until(() => notified(receiver, user).includes('firing'), WAIT_MS);
    await until(() => notified(receiver, user).includes('resolved'), WAIT_MS);
    expect(notified(receiver, user)[0]).toBe('firing');
  });
});
