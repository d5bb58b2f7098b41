import { describe, expect, it } from 'vitest';
import { encodeAlert } from '@llmsec/core';
import { WebhookSink } from '../src/sinks/webhook.ts';
import { alert, fakeFetch, resolved, testMetrics } from './sink-support.ts';

describe('WebhookSink', () => {
  it('POSTs each notification as the alert JSONL object, with auth, retrying through an outage', async () => {
    let up = false;
    const { fetch, calls } = fakeFetch(() => (up ? 200 : 503));
    const metrics = testMetrics();
    const sink = new WebhookSink({
      url: 'http://relay:8080/hook',
      fetch,
      meter: metrics.meter,
      auth: { bearer: 't0k' },
      backoff: { initialMs: 1, maxMs: 5 },
    });
    sink.send(alert());
    sink.send(alert()); // the same notification twice while down: delivered once
    sink.send(resolved(alert()));
    for (let i = 0; i < 1_000 && calls.length < 2; i++) await new Promise((r) => setTimeout(r, 1));
    up = true;
    await sink.shutdown();
    const ok = calls.filter((c) => c.status === 200);
    expect(ok.map((c) => c.body)).toEqual([
      JSON.parse(encodeAlert(alert())),
      JSON.parse(encodeAlert(resolved(alert()))),
    ]);
    expect(ok[0]?.url).toBe('http://relay:8080/hook');
    expect(ok[0]?.headers.authorization).toBe('Bearer t0k');
    expect(await metrics.sum('llmsec.alert.notifications', { sink: 'webhook', outcome: 'sent' })).toBe(2);
  });

  it('rejects a bad URL at construction', () => {
    expect(() => new WebhookSink({ url: 'relay:8080' })).toThrow(/http or https|not a URL/);
  });
});
