/**
 * Sink failures that lose alerts (a receiver that rejects every batch) go to core's error
 * funnel: every one counted on llmsec.telemetry.errors{component="detect.sinks"} by type,
 * logged once per episode instead of once per batch.
 */
import { diag, DiagLogLevel, metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertmanagerSink } from '../src/sinks/alertmanager.ts';
import { alert, fakeFetch } from './sink-support.ts';

class PullReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const reader = new PullReader();
const logged: string[] = [];
beforeAll(() => {
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  // The message and its detail (the funnel's second argument: the error's message).
  const log = (m: string, ...args: unknown[]): void => void logged.push([m, ...args].join(' '));
  diag.setLogger(
    { error: log, warn: log, info: () => {}, debug: () => {}, verbose: () => {} },
    DiagLogLevel.WARN,
  );
});
afterAll(() => {
  metrics.disable();
  diag.disable();
});

async function telemetryErrors(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const { resourceMetrics } = await reader.collect();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== 'llmsec.telemetry.errors') continue;
      for (const p of metric.dataPoints) {
        const key = `${String(p.attributes.component)}|${String(p.attributes.error_type)}`;
        out[key] = (out[key] ?? 0) + (p.value as number);
      }
    }
  }
  return out;
}

describe('sink errors', () => {
  it('a receiver that rejects every batch: each counted by status, one log line', async () => {
    const { fetch, calls } = fakeFetch(() => 400);
    const sink = new AlertmanagerSink({ urls: ['http://am:9093'], fetch, flushTimeoutMs: 5_000 });
    try {
      for (let i = 0; i < 5; i++) {
        sink.send(alert({ alert_id: `A${i}` }));
        await sink.forceFlush();
      }
    } finally {
      await sink.shutdown();
    }
    expect(calls.length).toBe(5);
    expect(await telemetryErrors()).toEqual({ 'detect.sinks|http_400': 5 });
    const lines = logged.filter((l) => l.includes('notifications rejected'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      'llmsec detect.sinks: delivery to http://am:9093/api/v2/alerts (notifications rejected) failed (http_400)',
    );
  });

  it('alerts a shutdown gives up on (a receiver that is down) are counted and logged, not only metered', async () => {
    // Connection refused on every try: the alerts wait in the queue, backing off. The
    // shutdown's flush runs out and drops them. Before, only llmsec.alert.notifications
    // {outcome="failed"} counted them, which an exiting detector is no longer scraped for,
    // and the detector's "shutdown timed out" warning (sinks_pending) is not written when
    // the sinks give up within its shutdown_timeout: the exit lost them without a line.
    const { fetch, calls } = fakeFetch(() => 0);
    const sink = new AlertmanagerSink({ urls: ['http://am-down:9093'], fetch, flushTimeoutMs: 50 });
    for (let i = 0; i < 3; i++) sink.send(alert({ alert_id: `D${i}` }));
    await sink.shutdown();
    expect(calls.length).toBeGreaterThan(0);
    expect(sink.pendingCount).toBe(0);
    expect((await telemetryErrors())['detect.sinks|undelivered_at_shutdown']).toBe(1);
    const lines = logged.filter((l) => l.includes('at shutdown'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('delivery to http://am-down:9093/api/v2/alerts (given up at shutdown)');
    expect(lines[0]).toContain('3 notification(s) undelivered');
  });
});
