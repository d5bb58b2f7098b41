import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { AlertmanagerSink, ConsoleSink, DetectionEngine } from '@llmsec/detect';
import {
  exampleConfigForTest,
  startAlertmanager,
  startWebhookReceiver,
  type AlertmanagerHandle,
  type WebhookReceiver,
} from './support/alertmanager.ts';
import { waitUntil } from './support/ports.ts';

// End to end: security events -> DetectionEngine (built-in rules) -> AlertmanagerSink -> a real
// Alertmanager running the shipped config -> its webhook receiver; the same alerts printed as
// JSONL by a ConsoleSink.

let receiver: WebhookReceiver;
let am: AlertmanagerHandle;
let sink: AlertmanagerSink;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  am = await startAlertmanager({
    config: await exampleConfigForTest({
      receiverUrls: { chat: `${receiver.url}/chat`, pager: `${receiver.url}/pager` },
      groupWait: '200ms',
      groupInterval: '1s',
    }),
  });
});

afterAll(async () => {
  await sink?.shutdown();
  await am?.stop();
  await receiver?.close();
});

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

describe('DetectionEngine to Alertmanager', () => {
  it('a burst of guardrail blocks pages nobody, reaches chat once, and resolves', async () => {
    sink = new AlertmanagerSink({
      urls: [am.url],
      resendIntervalMs: 250,
      flushTimeoutMs: 2_000,
      traceUrlTemplate: 'http://localhost:16686/trace/{trace_id}',
    });
    const stream = new PassThrough();
    let jsonl = '';
    stream.on('data', (c: Buffer) => (jsonl += c.toString()));
    const engine = new DetectionEngine({ sinks: [sink, new ConsoleSink({ stream })] });

    // Twelve blocks from one user, 10 s apart, half an hour ago (event time).
    const t0 = Date.now() - 30 * 60_000;
    for (let i = 0; i < 12; i++) {
      const event: SecurityEvent = {
        event_id: `EVT-${hex(i + 1, 12)}`,
        timestamp: new Date(t0 + i * 10_000).toISOString(),
        category: 'guardrail_block',
        severity: 'warning',
        user_id: 'u-e2e',
        trace_id: hex(1000 + i, 32),
        span_id: hex(2000 + i, 16),
        metadata: { guardrail_layer: 'injection', block_reason: 'pattern' },
      };
      engine.ingest(event);
    }
    engine.flush();

    const chat = (): typeof receiver.notifications =>
      receiver.notifications.filter(
        (n) => n.path === '/chat' && n.groupLabels.alertname === 'rapid_guardrail_blocks',
      );
    await waitUntil(() => chat().length > 0, { what: 'rapid_guardrail_blocks at the chat receiver' });
    const firing = chat()[0]?.alerts[0];
    expect(firing?.labels).toMatchObject({
      severity: 'alert',
      rule: 'rapid_guardrail_blocks',
      user_id: 'u-e2e',
    });
    expect(firing?.annotations.runbook_url).toMatch(/rapid_guardrail_blocks/);
    expect(firing?.annotations.evidence).toContain('EVT-000000000001');
    expect(firing?.annotations.trace_links).toContain(`http://localhost:16686/trace/${hex(1000, 32)}`);
    expect(receiver.notifications.filter((n) => n.path === '/pager')).toHaveLength(0);

    // Event time moves on to now: the quiet period has long passed, the incident resolves.
    engine.advanceTo(Date.now());
    await waitUntil(() => chat().some((n) => n.status === 'resolved'), { what: 'the resolve' });
    expect(chat().filter((n) => n.status === 'firing')).toHaveLength(1);

    const lines = jsonl
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { rule: string; status: string; alert_id: string });
    const ours = lines.filter((l) => l.rule === 'rapid_guardrail_blocks');
    expect(ours.map((l) => l.status)).toEqual(['firing', 'resolved']);
    expect(ours[0]?.alert_id).toBe(ours[1]?.alert_id);
    expect(firing?.annotations.alert_id).toBe(ours[0]?.alert_id);
    await engine.shutdown();
  });
});
