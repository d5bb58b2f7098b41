import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { trace } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MetricReader } from '@opentelemetry/sdk-metrics';
import { setupLlmsec, withSecurityContext, type LlmsecSetup } from '@llmsec/sdk';
import { waitUntil } from './support/ports.ts';

/**
 * OTLP/HTTP export to a receiver started by the test. The 0.301 HTTP exporters send
 * OTLP/JSON (Content-Type application/json, ids as hex); the receiver decodes whatever
 * arrives and the test looks for the correlation ids on the wire.
 */

interface Received {
  path: string;
  contentType: string;
  body: unknown;
}

type KeyValue = { key: string; value: Record<string, unknown> };
const attr = (list: KeyValue[] | undefined, key: string): unknown => {
  const v = list?.find((a) => a.key === key)?.value;
  return v === undefined
    ? undefined
    : (v.stringValue ?? v.intValue ?? v.doubleValue ?? v.boolValue ?? v.arrayValue);
};

class PullReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

let receiver: Server;
let port: number;
const received: Received[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      const contentType = String(req.headers['content-type']);
      received.push({ path: req.url ?? '', contentType, body: JSON.parse(raw.toString('utf8')) as unknown });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  port = (receiver.address() as AddressInfo).port;
});

let llmsec: LlmsecSetup | undefined;
afterEach(async () => {
  await llmsec?.shutdown();
  llmsec = undefined;
  received.length = 0;
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  delete process.env.OTEL_EXPORTER_OTLP_TIMEOUT;
});
afterAll(async () => {
  await new Promise((r) => receiver.close(r));
});

type Traces = {
  resourceSpans: Array<{
    resource: { attributes: KeyValue[] };
    scopeSpans: Array<{
      spans: Array<{
        traceId: string;
        spanId: string;
        name: string;
        events?: Array<{ name: string; attributes: KeyValue[] }>;
      }>;
    }>;
  }>;
};
type Logs = {
  resourceLogs: Array<{
    scopeLogs: Array<{
      logRecords: Array<{
        traceId: string;
        spanId: string;
        eventName?: string;
        severityNumber: number;
        severityText: string;
        attributes: KeyValue[];
      }>;
    }>;
  }>;
};
type Metrics = {
  resourceMetrics: Array<{
    scopeMetrics: Array<{
      metrics: Array<{ name: string; sum?: { dataPoints: Array<{ attributes: KeyValue[] }> } }>;
    }>;
  }>;
};

function emitInSpan(events: LlmsecSetup['events']): { traceId: string; spanId: string } {
  return withSecurityContext(
    { userId: 'wire-user', sessionId: 'wire-session', conversationId: 'wire-conv' },
    () =>
      trace.getTracer('app').startActiveSpan('chat gpt-4o', (span) => {
        events.guardrailBlock({ layer: 'injection', reason: 'ignore previous instructions' });
        span.end();
        return span.spanContext();
      }),
  );
}

async function checkWire(ids: { traceId: string; spanId: string }): Promise<void> {
  await waitUntil(
    () => ['/v1/traces', '/v1/logs', '/v1/metrics'].every((p) => received.some((r) => r.path === p)),
    {
      what: 'traces, logs and metrics at the receiver',
    },
  );
  for (const r of received) expect(r.contentType).toContain('application/json');

  const traces = received.filter((r) => r.path === '/v1/traces').map((r) => r.body as Traces);
  const resource = traces[0]!.resourceSpans[0]!.resource.attributes;
  expect(attr(resource, 'service.name')).toBe('otlp-test');
  const spans = traces.flatMap((t) =>
    t.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)),
  );
  const span = spans.find((s) => s.name === 'chat gpt-4o')!;
  expect(span.traceId).toBe(ids.traceId);
  expect(span.spanId).toBe(ids.spanId);
  const spanEvent = span.events!.find((e) => e.name === 'llmsec.guardrail_block')!;
  expect(attr(spanEvent.attributes, 'user.id')).toBe('wire-user');
  expect(attr(spanEvent.attributes, 'session.id')).toBe('wire-session');
  expect(attr(spanEvent.attributes, 'gen_ai.conversation.id')).toBe('wire-conv');

  const logs = received.filter((r) => r.path === '/v1/logs').map((r) => r.body as Logs);
  const records = logs.flatMap((l) =>
    l.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords)),
  );
  const record = records.find((r) => r.eventName === 'llmsec.guardrail_block')!;
  expect(record.traceId).toBe(ids.traceId);
  expect(record.spanId).toBe(ids.spanId);
  expect(record.severityNumber).toBe(13);
  expect(record.severityText).toBe('warning');
  expect(attr(record.attributes, 'user.id')).toBe('wire-user');
  expect(attr(record.attributes, 'session.id')).toBe('wire-session');
  expect(attr(record.attributes, 'llmsec.metadata.guardrail_layer')).toBe('injection');

  const metrics = received.filter((r) => r.path === '/v1/metrics').map((r) => r.body as Metrics);
  const all = metrics.flatMap((m) =>
    m.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics)),
  );
  const events = all.find((m) => m.name === 'llmsec.events')!;
  const point = events.sum!.dataPoints[0]!;
  expect(attr(point.attributes, 'category')).toBe('guardrail_block');
  expect(attr(point.attributes, 'layer')).toBe('injection');
  expect(point.attributes.map((a) => a.key)).not.toContain('user.id');
}

describe('OTLP/HTTP export', () => {
  it('carries trace id, span id, user and session ids on the wire (endpoint from options)', async () => {
    llmsec = setupLlmsec({
      serviceName: 'otlp-test',
      otlp: { endpoint: `http://127.0.0.1:${port}/` },
      prometheus: false,
    });
    const ids = emitInSpan(llmsec.events);
    await llmsec.forceFlush();
    await checkWire(ids);
  });

  it('is configured by the standard OTEL_EXPORTER_OTLP_ENDPOINT variable', async () => {
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${port}`;
    llmsec = setupLlmsec({ serviceName: 'otlp-test', prometheus: false });
    const ids = emitInSpan(llmsec.events);
    // shutdown flushes everything: nothing is lost on the way out.
    await llmsec.shutdown();
    await checkWire(ids);
  });

  it('an unreachable collector does not reach the application', async () => {
    // Short export timeout: the exporters retry with backoff up to it (default 10 s).
    process.env.OTEL_EXPORTER_OTLP_TIMEOUT = '300';
    const reader = new PullReader();
    llmsec = setupLlmsec({
      serviceName: 'otlp-test',
      otlp: { endpoint: 'http://127.0.0.1:9/' },
      prometheus: false,
      metricReaders: [reader],
    });
    expect(() => emitInSpan(llmsec!.events)).not.toThrow();
    await expect(llmsec.forceFlush()).resolves.toBeUndefined();
    // The failures were counted, by component and error class, not thrown.
    const { resourceMetrics } = await reader.collect();
    const errors = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === 'llmsec.telemetry.errors');
    const components = new Set(errors?.dataPoints.map((p) => p.attributes.component));
    expect(components.has('otlp_traces') || components.has('otlp_logs')).toBe(true);
    await expect(llmsec.shutdown()).resolves.toBeUndefined();
  });
});
