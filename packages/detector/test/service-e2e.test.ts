// The detector service end to end, in process: real OTel JS exporters (http/protobuf,
// http/json, grpc) → receivers → queue → engine → alert JSONL file; health, readiness and
// metrics on the HTTP port; drain on shutdown.
import { readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { SimpleSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { SpanKind } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningDetector } from '../src/service/detector.ts';
import { emitThrough } from './sender.ts';
import { startDetectorWith } from './service-support.ts';

const T0 = Date.parse('2026-12-04T10:00:00.000Z');

function alertLines(file: string): Array<Record<string, unknown>> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The SDK's own SecurityEvents emitting guardrail blocks through a real exporter. */
async function sendBlocks(exporter: LogRecordExporter, user: string, count: number, t0 = T0): Promise<void> {
  const seed = [...user].reduce((h, c) => h * 31 + c.charCodeAt(0), t0 % 1000);
  // In order: the detector here allows no lateness (see emitThrough).
  await emitThrough(
    exporter,
    seed,
    t0,
    (events, clock) => {
      for (let i = 0; i < count; i++) {
        events.guardrailBlock({ userId: user, layer: 'input', reason: 'prompt_injection' });
        clock.advance(1000);
      }
    },
    true,
  );
}

let running: RunningDetector | undefined;
afterEach(async () => {
  await running?.shutdown();
  running = undefined;
});

async function start(extra: Record<string, unknown> = {}) {
  let alerts = '';
  ({ detector: running } = await startDetectorWith('e2e', (dir) => {
    alerts = join(dir, 'alerts.jsonl');
    return { allowed_lateness: '0s', sinks: { alerts }, ...extra };
  }));
  return {
    detector: running,
    alerts,
    http: `http://127.0.0.1:${running.http.port}`,
    grpc: `http://127.0.0.1:${running.grpc.port}`,
  };
}

describe('llmsec detector service, end to end', () => {
  it('raises one alert per user from llmsec log records sent by the http/protobuf, http/json and grpc exporters', async () => {
    const { http, grpc, alerts } = await start();
    // One after the other in event time: with no allowed lateness, older events would be late.
    await sendBlocks(
      new ProtoLogExporter({ url: `${http}/v1/logs` }) as unknown as LogRecordExporter,
      'via-proto',
      12,
      T0,
    );
    await sendBlocks(
      new JsonLogExporter({ url: `${http}/v1/logs` }) as unknown as LogRecordExporter,
      'via-json',
      12,
      T0 + 20_000,
    );
    await sendBlocks(
      new GrpcLogExporter({ url: grpc }) as unknown as LogRecordExporter,
      'via-grpc',
      12,
      T0 + 40_000,
    );
    const lines = await waitFor(`three alerts (${JSON.stringify(running?.engine.stats)})`, () => {
      const l = alertLines(alerts).filter((a) => a.rule === 'rapid_guardrail_blocks');
      return l.length >= 3 && l;
    });
    // Fired at each user's 10th block: starts_at is that event's time.
    expect(lines.map((a) => [a.status, a.user_ids, a.starts_at])).toEqual([
      ['firing', ['via-proto'], new Date(T0 + 9000).toISOString()],
      ['firing', ['via-json'], new Date(T0 + 29_000).toISOString()],
      ['firing', ['via-grpc'], new Date(T0 + 49_000).toISOString()],
    ]);
  });

  it('sends alerts back as llmsec.alert OTLP log records (--otlp-alerts)', async () => {
    const bodies: string[] = [];
    const capture = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push(`${req.url} ${body}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => capture.listen(0, '127.0.0.1', r));
    const port = (capture.address() as { port: number }).port;
    try {
      const { detector, http } = await start({ sinks: { otlp_alerts: `http://127.0.0.1:${port}/v1/logs` } });
      await sendBlocks(
        new ProtoLogExporter({ url: `${http}/v1/logs` }) as unknown as LogRecordExporter,
        'looped',
        10,
      );
      await waitFor('the alert', () => detector.engine.stats.alertsFired === 1);
      await detector.shutdown(); // flushes the log exporter
      running = undefined;
      const sent = bodies.join('\n');
      expect(sent).toContain('/v1/logs');
      expect(sent).toContain('"eventName":"llmsec.alert"');
      expect(sent).toContain('"key":"llmsec.alert.rule","value":{"stringValue":"rapid_guardrail_blocks"}');
      expect(sent).toContain('"key":"service.name","value":{"stringValue":"llmsec-detector"}');
    } finally {
      capture.close();
    }
  });

  it('serves /-/healthy, /-/ready and /metrics beside OTLP; partial success for unusable records', async () => {
    const { detector, http } = await start();
    expect((await fetch(`${http}/-/healthy`)).status).toBe(200);
    expect(await (await fetch(`${http}/-/ready`)).text()).toBe('OK\n');
    expect((await fetch(`${http}/nope`)).status).toBe(404);
    expect((await fetch(`${http}/-/ready`, { method: 'POST' })).status).toBe(405);

    // A foreign log record next to llmsec ones: taken, the foreign one rejected (partial success).
    const body = JSON.stringify({
      resourceLogs: [
        {
          resource: { attributes: [] },
          scopeLogs: [
            {
              scope: { name: 'x' },
              logRecords: [{ timeUnixNano: String(T0 * 1e6), eventName: 'http.access', attributes: [] }],
            },
          ],
        },
      ],
    });
    const res = await fetch(`${http}/v1/logs`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      partialSuccess: { rejectedLogRecords: '1', errorMessage: '1 log records rejected: not_llmsec=1' },
    });

    // A GenAI client span of another instrumentation counts as a request.
    const tp = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'py-app' }),
      spanProcessors: [
        new SimpleSpanProcessor({
          exporter: new ProtoTraceExporter({ url: `${http}/v1/traces` }) as unknown as SpanExporter,
        }),
      ],
    });
    const span = tp.getTracer('opentelemetry.instrumentation.openai').startSpan('chat gpt-4o', {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 5,
        'user.id': 'eve',
      },
    });
    span.end();
    await tp.forceFlush();
    await tp.shutdown();

    await waitFor('events processed', () => detector.engine.stats.ingested >= 1);
    const metrics = await (await fetch(`${http}/metrics`)).text();
    expect(metrics).toMatch(
      /llmsec_detector_records_rejected_total\{signal="logs",reason="not_llmsec"[^}]*\} 1/,
    );
    expect(metrics).toMatch(/llmsec_detector_records_accepted_total\{signal="traces"[^}]*\} 1/);
    expect(metrics).toMatch(
      /llmsec_detector_export_requests_total\{transport="http",signal="logs",outcome="accepted"[^}]*\} 1/,
    );
    expect(metrics).toMatch(/llmsec_detector_queue_depth\{[^}]*\} 0/);
    expect(metrics).toMatch(/llmsec_detector_state_healthy\{store="memory"[^}]*\} 1/);
    expect(metrics).toMatch(/llmsec_detector_event_lag_count\{[^}]*\} 1/);
    expect(metrics).toMatch(/llmsec_alerts_total\{rule="rapid_guardrail_blocks"/);
  });

  it('on shutdown: stops accepting (ready 503 / OTLP unavailable), drains, flushes held events into alerts', async () => {
    // An hour of allowed lateness: nothing is processed until shutdown flushes the engine.
    const { detector, http, alerts } = await start({ allowed_lateness: '1h' });
    await sendBlocks(
      new ProtoLogExporter({ url: `${http}/v1/logs` }) as unknown as LogRecordExporter,
      'late-user',
      10,
    );
    await waitFor('events queued', () => detector.engine.stats.ingested === 10);
    expect(alertLines(alerts)).toEqual([]);
    const done = detector.shutdown();
    expect(await done).toBe(true);
    running = undefined;
    expect(alertLines(alerts).map((a) => [a.rule, a.status, a.user_ids])).toEqual([
      ['rapid_guardrail_blocks', 'firing', ['late-user']],
    ]);
    await expect(fetch(`${http}/-/ready`)).rejects.toThrow(); // the port is closed
  });
});
