import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEventLine } from '@llmsec/core';
import { startChatApi, type ChatApi } from '../examples/chat-api/app.ts';
import { demoUpstreamScript } from '../examples/chat-api/upstream-script.ts';
import { startFakeLlm, type FakeLlm } from '../examples/fake-llm/server.ts';
import { INJECTION_PROMPTS } from '../examples/simulator/prompts.ts';
import {
  startAlertmanager,
  startWebhookReceiver,
  type AlertmanagerHandle,
  type WebhookNotification,
  type WebhookReceiver,
} from './support/alertmanager.ts';
import { waitUntil } from './support/ports.ts';

/**
 * End to end: attack traffic over HTTP to the example chat API, inline detection, the
 * AlertmanagerSink, a real Alertmanager, its webhook receiver. One user sends a burst of
 * prompt injections; `rapid_guardrail_blocks` must reach the receiver with its labels and
 * annotations, and be written to `<outDir>/alerts.jsonl` as the alert JSONL of
 * docs/formats.md section 2.
 */

const ATTACKER = 'e2e-am-attacker';
const BURST = 12;

let receiver: WebhookReceiver;
let am: AlertmanagerHandle;
let upstream: FakeLlm;
let api: ChatApi;
let outDir: string;
const statuses: number[] = [];

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'llmsec-e2e-am-'));
  receiver = await startWebhookReceiver();
  am = await startAlertmanager({
    config: [
      'route:',
      '  receiver: hook',
      '  group_by: [alertname, user_id]',
      '  group_wait: 500ms',
      '  group_interval: 1s',
      '  repeat_interval: 1h',
      'receivers:',
      '  - name: hook',
      '    webhook_configs:',
      `      - url: ${receiver.url}/hook`,
      '        send_resolved: true',
      '',
    ].join('\n'),
  });
  upstream = await startFakeLlm({ script: demoUpstreamScript });
  api = await startChatApi({
    upstream: { baseURL: upstream.openaiBaseURL, apiKey: 'fake-key' },
    alertmanagerUrls: [am.url],
    outDir,
    serviceName: 'chat-api-e2e-alertmanager',
  });

  // The burst: one user, prompt injections, sequential like a scripted client.
  for (let i = 0; i < BURST; i++) {
    const res = await fetch(`${api.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-user-id': ATTACKER,
        'x-session-id': `${ATTACKER}-s1`,
      },
      body: JSON.stringify({
        messages: [{ role: 'user', content: INJECTION_PROMPTS[i % INJECTION_PROMPTS.length] }],
      }),
    });
    await res.arrayBuffer();
    statuses.push(res.status);
  }
});

afterAll(async () => {
  await api?.close();
  await upstream?.close();
  await am?.stop();
  await receiver?.close();
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

function rapidBlockNotifications(): WebhookNotification[] {
  return receiver.notifications.filter(
    (n) => n.status === 'firing' && n.alerts.some((a) => a.labels.alertname === 'rapid_guardrail_blocks'),
  );
}

async function alertLines(): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(join(outDir, 'alerts.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('detection alerts from the chat API reach a real Alertmanager', () => {
  it('blocks every injection attempt at the input guardrail (403)', () => {
    expect(statuses).toEqual(Array.from({ length: BURST }, () => 403));
  });

  it('delivers rapid_guardrail_blocks for the attacker to the webhook receiver, with labels and annotations', async () => {
    await waitUntil(() => rapidBlockNotifications().length > 0, {
      timeoutMs: 25_000,
      intervalMs: 100,
      what: `a rapid_guardrail_blocks notification (received so far: ${JSON.stringify(receiver.notifications)}; alertmanager: ${am.output()})`,
    });
    const notification = rapidBlockNotifications()[0]!;
    expect(notification.path).toBe('/hook');
    expect(notification.groupLabels).toEqual({ alertname: 'rapid_guardrail_blocks', user_id: ATTACKER });
    const alert = notification.alerts.find((a) => a.labels.alertname === 'rapid_guardrail_blocks')!;
    expect(alert.status).toBe('firing');
    expect(alert.labels).toEqual({
      alertname: 'rapid_guardrail_blocks',
      rule: 'rapid_guardrail_blocks',
      severity: 'alert',
      user_id: ATTACKER,
    });
    expect(alert.annotations.runbook_url).toMatch(/^https:\/\/\S+rapid_guardrail_blocks\.md$/);
    expect(alert.annotations.description).toMatch(/\d/); // the figures that fired it
    expect(alert.annotations.user_ids).toBe(ATTACKER);
    expect(alert.annotations.alert_id).toMatch(/\S/);
    expect(alert.annotations.evidence).toMatch(/^EVT-/);
    // The evidence links to traces: the request spans of the blocked calls.
    expect(alert.annotations.trace_links).toMatch(/\/trace\/[0-9a-f]{32}/);
    expect(alert.generatorURL).toMatch(/\/trace\/[0-9a-f]{32}$/);
    // Event time: the incident began at the first block, before the notification.
    expect(Date.parse(alert.startsAt)).toBeLessThanOrEqual(Date.now());
    // Not flagged: nobody else sent anything.
    for (const n of receiver.notifications) expect(n.groupLabels.user_id).toBe(ATTACKER);
  });

  it('writes the same incident to alerts.jsonl, with the fields of the alert format', async () => {
    await waitUntil(async () => (await alertLines()).some((l) => l.rule === 'rapid_guardrail_blocks'), {
      timeoutMs: 10_000,
      what: 'the rapid_guardrail_blocks line in alerts.jsonl',
    });
    const lines = await alertLines();
    const line = lines.find((l) => l.rule === 'rapid_guardrail_blocks' && l.status === 'firing')!;
    expect(line).toMatchObject({
      rule: 'rapid_guardrail_blocks',
      severity: 'alert',
      status: 'firing',
      labels: { user_id: ATTACKER },
      user_ids: [ATTACKER],
    });
    expect(typeof line.alert_id).toBe('string');
    expect(Number.isNaN(Date.parse(line.starts_at as string))).toBe(false);
    expect(line.description).toEqual(expect.any(String));
    expect((line.evidence as string[]).length).toBeGreaterThan(0);
    // One incident, one firing line.
    expect(lines.filter((l) => l.rule === 'rapid_guardrail_blocks' && l.status === 'firing')).toHaveLength(1);

    // The webhook's alert is this incident (same id), and its evidence is the attacker's blocks.
    const delivered = rapidBlockNotifications()[0]!.alerts.find(
      (a) => a.labels.alertname === 'rapid_guardrail_blocks',
    )!;
    expect(delivered.annotations.alert_id).toBe(line.alert_id);
    expect(delivered.annotations.evidence).toBe((line.evidence as string[]).join(', '));

    const events = (await readFile(join(outDir, 'events.jsonl'), 'utf8'))
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => decodeEventLine(l).event);
    const blocks = new Map(
      events.filter((e) => e.category === 'guardrail_block').map((e) => [e.event_id, e]),
    );
    for (const id of line.evidence as string[]) {
      expect(blocks.get(id)?.user_id, `evidence ${id}`).toBe(ATTACKER);
    }
  });
});
