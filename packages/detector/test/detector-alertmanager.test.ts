// The detector's --alertmanager sink against a real Alertmanager (prometheus-alertmanager):
// llmsec log records from the real OTLP exporter → detector → Alertmanager's v2 API, where the
// alert is listed with the rule, severity and user labels.
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAlertmanager, type AlertmanagerHandle } from '../../../test/support/alertmanager.ts';
import type { RunningDetector } from '../src/service/detector.ts';
import { emitThrough } from './sender.ts';
import { startDetectorWith } from './service-support.ts';

let am: AlertmanagerHandle;
let detector: RunningDetector;

beforeAll(async () => {
  am = await startAlertmanager({
    config: ['route:', '  receiver: none', 'receivers:', '  - name: none', ''].join('\n'),
  });
  ({ detector } = await startDetectorWith('am', () => ({
    allowed_lateness: '0s',
    sinks: { alertmanager: [am.url], trace_url_template: 'http://jaeger.example/trace/{trace_id}' },
  })));
});

afterAll(async () => {
  await detector?.shutdown();
  await am?.stop();
});

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: { state: string };
}

describe('detector → Alertmanager', () => {
  it('posts a firing alert that Alertmanager lists with rule, severity and user labels', async () => {
    // Event times now: Alertmanager treats startsAt as wall-clock time.
    await emitThrough(
      new ProtoLogExporter({
        url: `http://127.0.0.1:${detector.http.port}/v1/logs`,
      }) as unknown as LogRecordExporter,
      31,
      Date.now() - 20_000,
      (ev, clock) => {
        for (let i = 0; i < 3; i++) {
          ev.outputFilterBlock({ userId: 'am-user', filter: 'secrets', reason: 'api_key' });
          clock.advance(1000);
        }
      },
      true, // in order: the detector allows no lateness
    );
    // Nothing lost as late. With no lateness, the engine's tick moves event time on with idle
    // wall time after the last event, so a later export of older events would be dropped
    // (genai-openinference lost events so, 82f379a). Here that cannot happen: the three events
    // are the detector's only input and leave in one export (the in-order sender flushes them
    // as one batch, under the processor's 512), in time order, and one export is ingested in
    // one turn of the event loop (IngestQueue chunks of 4096), so no tick falls between them.
    // Checked under load (CPU burners on the test's one core). Asserted, so a change to any of
    // that shows here as the events dropped, not as an alert that never came.
    const stats = detector.engine.stats;
    expect({ ingested: stats.ingested, droppedLate: stats.droppedLate }).toEqual({
      ingested: 3,
      droppedLate: 0,
    });
    const until = Date.now() + 15_000;
    let listed: AmAlert | undefined;
    while (listed === undefined) {
      const alerts = (await (await fetch(`${am.url}/api/v2/alerts`)).json()) as AmAlert[];
      listed = alerts.find((a) => a.labels.alertname === 'output_filter_bypass');
      if (listed === undefined) {
        if (Date.now() > until) throw new Error(`no alert in Alertmanager; it said:\n${am.output()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(listed.labels).toMatchObject({
      alertname: 'output_filter_bypass',
      severity: 'critical',
      user_id: 'am-user',
    });
    expect(listed.status.state).toBe('active');
    expect(listed.annotations.user_ids).toBe('am-user');
  });
});
