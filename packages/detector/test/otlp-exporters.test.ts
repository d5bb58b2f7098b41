// The real OpenTelemetry JS OTLP exporters (0.301: http/json, http/protobuf, grpc; plain and
// gzip) send llmsec events recorded by @llmsec/sdk, as log records and as span events, to the
// receivers; every decoded field is checked against what was sent.
import { SpanKind, SpanStatusCode, type Attributes as OtelAttributes } from '@opentelemetry/api';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { SimpleSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { ManualClock, createIdGenerator, seededRandom, type SecurityEvent } from '@llmsec/core';
import { LlmsecMetrics, SecurityEvents } from '@llmsec/sdk';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startOtlpGrpcServer, type OtlpGrpcServer } from '../src/otlp/grpc-server.ts';
import { logRecordToEvent, spanEventToEvent } from '../src/otlp/to-event.ts';
import { RecordingIngest, startHttp, type TestHttpServer } from './otlp-support.ts';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const BIG = 2 ** 60; // an int64 beyond 2^53: decoded as its decimal string

type Protocol = 'http/json' | 'http/protobuf' | 'grpc';
type Compression = 'none' | 'gzip';

let ingest: RecordingIngest;
let http: TestHttpServer;
let grpc: OtlpGrpcServer;

beforeAll(async () => {
  ingest = new RecordingIngest();
  http = await startHttp({ ingest });
  grpc = await startOtlpGrpcServer({ host: '127.0.0.1', port: 0, ingest });
});

afterAll(async () => {
  await Promise.all([http?.close(), grpc?.close()]);
});

beforeEach(() => {
  ingest.records.length = 0;
  ingest.spans.length = 0;
  http.encodings.length = 0;
});

function exporters(
  protocol: Protocol,
  compression: Compression,
): { logs: LogRecordExporter; traces: SpanExporter } {
  const c = { compression: compression as never };
  switch (protocol) {
    case 'http/json':
      return {
        logs: new JsonLogExporter({ url: `${http.url}/v1/logs`, ...c }) as unknown as LogRecordExporter,
        traces: new JsonTraceExporter({ url: `${http.url}/v1/traces`, ...c }) as unknown as SpanExporter,
      };
    case 'http/protobuf':
      return {
        logs: new ProtoLogExporter({ url: `${http.url}/v1/logs`, ...c }) as unknown as LogRecordExporter,
        traces: new ProtoTraceExporter({ url: `${http.url}/v1/traces`, ...c }) as unknown as SpanExporter,
      };
    case 'grpc':
      return {
        logs: new GrpcLogExporter({
          url: `http://127.0.0.1:${grpc.port}`,
          ...c,
        }) as unknown as LogRecordExporter,
        traces: new GrpcTraceExporter({
          url: `http://127.0.0.1:${grpc.port}`,
          ...c,
        }) as unknown as SpanExporter,
      };
  }
}

interface Sent {
  guardrail: SecurityEvent;
  completed: SecurityEvent;
  traceId: string;
  spanId: string;
}

/** Records two llmsec events on a span and one foreign log record, through the real exporters. */
async function send(protocol: Protocol, compression: Compression): Promise<Sent> {
  const resource = resourceFromAttributes({
    'service.name': 'chat-api',
    'deployment.environment.name': 'test',
  });
  const ex = exporters(protocol, compression);
  const tracerProvider = new TracerProvider({
    resource,
    spanProcessors: [new SimpleSpanProcessor({ exporter: ex.traces })],
  });
  const loggerProvider = new LoggerProvider({
    resource,
    processors: [new SimpleLogRecordProcessor({ exporter: ex.logs })],
  });
  const meterProvider = new MeterProvider();
  const clock = new ManualClock(T0);
  const events = new SecurityEvents({
    logger: loggerProvider.getLogger('@llmsec/sdk'),
    metrics: new LlmsecMetrics({ meter: meterProvider.getMeter('test') }),
    clock,
    ids: createIdGenerator(seededRandom(7)),
  });
  const tracer = tracerProvider.getTracer('chat');
  const span = tracer.startSpan('chat gpt-x', {
    kind: SpanKind.CLIENT,
    startTime: T0,
    attributes: {
      'gen_ai.request.model': 'gpt-x',
      big: BIG,
      neg: -5,
      ratio: 1.5,
      ok: true,
      tags: ['a', 'b'],
    },
  });
  const guardrail = events.guardrailBlock({
    userId: 'u1',
    sessionId: 's1',
    layer: 'input',
    reason: 'prompt_injection',
    span,
  });
  clock.advance(250);
  const completed = events.requestCompleted({
    userId: 'u1',
    model: 'gpt-x',
    promptTokens: 1200,
    completionTokens: 34,
    latencyMs: 250,
    costUsd: 0.0025,
    blocked: true,
    span,
  });
  const attributes: OtelAttributes = {
    big: BIG,
    neg: -5,
    ratio: 1.5,
    ok: true,
    tags: ['a', 'b'],
    counts: [1, 2, 3],
  };
  loggerProvider.getLogger('app').emit({
    eventName: 'app.audit',
    severityNumber: 9,
    timestamp: T0 + 500,
    body: { action: 'login', nested: { list: [1, 'x', false] }, raw: Uint8Array.of(1, 2, 255) },
    attributes,
  });
  span.setStatus({ code: SpanStatusCode.ERROR, message: 'blocked' });
  span.end(T0 + 1000);
  await loggerProvider.forceFlush();
  await tracerProvider.forceFlush();
  await Promise.all([loggerProvider.shutdown(), tracerProvider.shutdown(), meterProvider.shutdown()]);
  const sc = span.spanContext();
  return { guardrail, completed, traceId: sc.traceId, spanId: sc.spanId };
}

const cases: [Protocol, Compression][] = [
  ['http/json', 'none'],
  ['http/json', 'gzip'],
  ['http/protobuf', 'none'],
  ['http/protobuf', 'gzip'],
  ['grpc', 'none'],
  ['grpc', 'gzip'],
];

describe.each(cases)('OTLP receivers ← real %s exporters (compression %s)', (protocol, compression) => {
  it('decodes llmsec log records, a foreign log record and the span with its llmsec events field by field', async () => {
    const sent = await send(protocol, compression);
    if (protocol !== 'grpc') {
      expect(new Set(http.encodings)).toEqual(new Set([compression === 'gzip' ? 'gzip' : 'identity']));
    }

    // Log records: the two llmsec events and the app's own record. A simple processor exports
    // each record on its own, so under load they may arrive in any order.
    expect(ingest.records).toHaveLength(3);
    const byName = (name: string) => ingest.records.find((r) => r.eventName === name);
    const [g, c, other] = [
      byName('llmsec.guardrail_block'),
      byName('llmsec.request_completed'),
      byName('app.audit'),
    ];
    expect(g).toMatchObject({
      eventName: 'llmsec.guardrail_block',
      timeMs: T0,
      traceId: sent.traceId,
      spanId: sent.spanId,
      scope: '@llmsec/sdk',
    });
    expect(g!.severityNumber).toBeGreaterThan(0);
    expect(g!.resource).toEqual({ 'service.name': 'chat-api', 'deployment.environment.name': 'test' });
    expect(g!.attributes['llmsec.event.id']).toBe(sent.guardrail.event_id);
    expect(c).toMatchObject({
      eventName: 'llmsec.request_completed',
      timeMs: T0 + 250,
      traceId: sent.traceId,
    });
    expect(c!.attributes['llmsec.metadata.prompt_tokens']).toBe(1200);
    expect(c!.attributes['llmsec.metadata.cost_usd']).toBe(0.0025);
    expect(c!.attributes['llmsec.metadata.blocked']).toBe(true);

    // Back to SecurityEvents: exactly what the SDK returned (ids from the carrier; the service
    // name from the resource, since the SDK was not given one).
    expect(logRecordToEvent(g!)).toEqual({ ...sent.guardrail, service: 'chat-api' });
    expect(logRecordToEvent(c!)).toEqual({ ...sent.completed, service: 'chat-api' });
    expect(logRecordToEvent(other!)).toBeUndefined();

    expect(other).toMatchObject({
      eventName: 'app.audit',
      timeMs: T0 + 500,
      severityNumber: 9,
      traceId: '',
      spanId: '',
      scope: 'app',
    });
    expect(other!.attributes).toEqual({
      big: (2n ** 60n).toString(),
      neg: -5,
      ratio: 1.5,
      ok: true,
      tags: ['a', 'b'],
      counts: [1, 2, 3],
    });
    expect(other!.body).toEqual({
      action: 'login',
      nested: { list: [1, 'x', false] },
      raw: Uint8Array.of(1, 2, 255),
    });

    // The span, with both llmsec events on it.
    expect(ingest.spans).toHaveLength(1);
    const span = ingest.spans[0]!;
    expect(span).toMatchObject({
      traceId: sent.traceId,
      spanId: sent.spanId,
      parentSpanId: '',
      name: 'chat gpt-x',
      kind: 3, // CLIENT on the wire (SpanKind.CLIENT + 1)
      startMs: T0,
      endMs: T0 + 1000,
      status: { code: 2, message: 'blocked' },
      scope: 'chat',
    });
    expect(span.resource['service.name']).toBe('chat-api');
    expect(span.attributes).toEqual({
      'gen_ai.request.model': 'gpt-x',
      big: (2n ** 60n).toString(),
      neg: -5,
      ratio: 1.5,
      ok: true,
      tags: ['a', 'b'],
    });
    expect(span.events.map((e) => [e.name, e.timeMs])).toEqual([
      ['llmsec.guardrail_block', T0],
      ['llmsec.request_completed', T0 + 250],
    ]);
    expect(spanEventToEvent(span.events[0]!, span)).toEqual({ ...sent.guardrail, service: 'chat-api' });
    expect(spanEventToEvent(span.events[1]!, span)).toEqual({ ...sent.completed, service: 'chat-api' });
  });
});
