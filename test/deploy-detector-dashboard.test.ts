import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDetector } from '../packages/detector/src/service/detector.ts';
import { emitThrough, senderEvents } from '../packages/detector/test/sender.ts';
import { startDetectorWith } from '../packages/detector/test/service-support.ts';
import {
  DASHBOARD_PATH,
  dashboardQueries,
  DETECTOR_METRIC_KINDS,
  detectorSeriesNames,
  knownSeriesNames,
  loadDashboard,
  metricNamesIn,
  prometheusSeriesNames,
  queriesWithoutData,
} from './support/dashboard.ts';
import { startPrometheus, type PrometheusHandle } from './support/prometheus.ts';
import { startRedis, type RedisHandle } from './support/redis.ts';
import * as DETECTOR from '../packages/detector/src/service/metrics.ts';

/**
 * The Grafana "llmsec: detector service" dashboard (deploy/grafana/dashboards/llmsec-detector.json,
 * provisioned from the same folder as the overview): its metric names are the detector's or
 * llmsec's, every detector instrument has a panel, the names are on a real detector's /metrics,
 * and every query returns data from a real Prometheus scraping a real detector (job `detector`,
 * as deploy/prometheus/prometheus.yml names it) that received events, raised an alert, wrote an
 * enforcement action to a real Redis, notified a webhook and dropped a late event, while a
 * trickle of events keeps the rates (and the one-in-16 lag samples) going.
 */

const DETECTOR_DASHBOARD = join(DASHBOARD_PATH, '..', 'llmsec-detector.json');
const dashboard = loadDashboard(DETECTOR_DASHBOARD) as ReturnType<typeof loadDashboard> & {
  uid: string;
  schemaVersion: number;
  templating: { list: Array<{ name: string; query: string }> };
};
const queries = dashboardQueries(dashboard);
const JOB = { vars: { job: 'detector' } };

async function sendBlocks(url: string, user: string, count: number, t0: number): Promise<void> {
  const exporter = new ProtoLogExporter({ url }) as unknown as LogRecordExporter;
  await emitThrough(exporter, 7, t0, (events, clock) => {
    for (let i = 0; i < count; i++) {
      events.guardrailBlock({ userId: user, layer: 'input', reason: 'prompt_injection' });
      clock.advance(1000);
    }
  });
}

describe('the detector dashboard, statically', () => {
  it('is a dashboard Grafana can load next to the overview: own uid, schema version, unique panel ids, grid positions', () => {
    expect(dashboard.uid).toBe('llmsec-detector');
    expect(dashboard.uid).not.toBe(loadDashboard().uid as string);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const panels = dashboard.panels as unknown as Array<{
      id: number;
      gridPos: { w: number; h: number; x: number };
    }>;
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, `panel ${p.id}`).toBeLessThanOrEqual(24);
      expect(p.gridPos.h).toBeGreaterThan(0);
    }
    expect(JSON.stringify(dashboard.panels)).not.toMatch(/"uid":"(?!prometheus")/);
  });

  it('queries only metric names the detector or llmsec produce, and shows every detector instrument', () => {
    const known = new Set([...knownSeriesNames(), ...detectorSeriesNames(), 'up']);
    const used = new Set<string>();
    expect(queries.length).toBeGreaterThanOrEqual(12);
    for (const q of queries) {
      const names = metricNamesIn(q.expr);
      expect(names.length, `${q.panel}: ${q.expr}`).toBeGreaterThan(0);
      for (const name of names) {
        expect(known, `${q.panel}: ${name}`).toContain(name);
        used.add(name);
      }
      // Scoped to the detector's scrape job: the chat API serves some of the same names.
      expect(q.expr, q.panel).toContain('job="$job"');
    }
    const instruments = [
      ...Object.keys(DETECTOR_METRIC_KINDS),
      DETECTOR.METRIC_QUEUE_DEPTH,
      DETECTOR.METRIC_QUEUE_BYTES,
      DETECTOR.METRIC_STATE_HEALTHY,
    ].map((n) => n.replace(/\./g, '_'));
    for (const base of instruments)
      expect(
        [...used].some((n) => n.startsWith(base)),
        base,
      ).toBe(true);
    expect(dashboard.templating.list.find((v) => v.name === 'job')?.query).toBe('detector');
  });
});

describe('the detector dashboard against a real detector scraped by a real Prometheus', () => {
  let redis: RedisHandle;
  let webhook: Server;
  let detector: RunningDetector;
  let prom: PrometheusHandle;
  let httpUrl: string;
  let trickle: NodeJS.Timeout | undefined;
  let trickleSender: ReturnType<typeof senderEvents> | undefined;

  beforeAll(async () => {
    redis = await startRedis();
    webhook = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200).end());
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    const hook = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/alerts`;
    ({ detector } = await startDetectorWith('dashboard', () => ({
      allowed_lateness: '0s',
      sinks: { webhook: [hook] },
      enforcement: {
        redis: redis.url,
        actions: ['warning', 'alert', 'critical'].map((severity) => ({ severity, action: 'warn' })),
      },
    })));
    httpUrl = `http://127.0.0.1:${detector.http.port}`;
    const t0 = Date.now() - 60_000;
    await sendBlocks(`${httpUrl}/v1/logs`, 'dashboard-user', 12, t0);
    await sendBlocks(`${httpUrl}/v1/logs`, 'too-late', 1, t0 - 3_600_000); // dropped as late
    // Events at wall-clock time, 16 a second: rates and lag percentiles have samples in every window.
    const sender = (trickleSender = senderEvents(
      new ProtoLogExporter({ url: `${httpUrl}/v1/logs` }) as unknown as LogRecordExporter,
      11,
      Date.now(),
    ));
    let n = 0;
    trickle = setInterval(() => {
      sender.clock.set(Math.max(sender.clock.now() + 1, Date.now()));
      for (let i = 0; i < 4; i++)
        sender.events.guardrailBlock({
          userId: `trickle-${n++ % 50}`,
          layer: 'input',
          reason: 'prompt_injection',
        });
    }, 250);
    prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${detector.http.port}`], jobName: 'detector' });
  }, 60_000);

  afterAll(async () => {
    clearInterval(trickle);
    await trickleSender?.provider.shutdown();
    await prom?.stop();
    await detector?.shutdown();
    await new Promise((resolve) => webhook?.close(resolve));
    await redis?.stop();
  });

  it('serves every detector series the dashboard reads on its /metrics', async () => {
    const text = await (await fetch(`${httpUrl}/metrics`)).text();
    const served = new Set([...text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/gm)].map((m) => m[1]!));
    for (const q of queries)
      for (const name of metricNamesIn(q.expr))
        if (name !== 'up') expect(served, `${q.panel}: ${name}`).toContain(name);
    // The names the tests derive are the exporter's (counters _total, histograms _bucket).
    expect(served).toContain(prometheusSeriesNames(DETECTOR.METRIC_EVENT_LAG, 'histogram')[0]);
  });

  it('every query returns data', async () => {
    const missing = await queriesWithoutData(prom, { queries, substitutions: JOB, timeoutMs: 30_000 });
    const report = missing
      .map((m) => `${m.query.panel} [${m.query.refId}]: ${m.promql}\n    ${m.error}`)
      .join('\n');
    expect(report, `queries without data:\n${report}`).toBe('');
  }, 60_000);
});
