// One record past a decode cap of its own (otlp.limits.max_attributes, max_string_bytes on a
// span's name, max_span_events) costs only itself: `llmsec detector` as a process answers
// 200 / OK with OTLP partial_success counting it (rejected_log_records / rejected_spans and an
// error_message naming the cap), and takes the other records of the batch, over OTLP/HTTP
// protobuf, OTLP/HTTP JSON and OTLP/gRPC. Before, the whole request was a 400 /
// INVALID_ARGUMENT, which the Collector does not retry: everyone else's events in it were lost.
import { Buffer } from 'node:buffer';
import * as grpc from '@grpc/grpc-js';
import {
  JsonLogsSerializer,
  JsonTraceSerializer,
  ProtobufLogsSerializer,
  ProtobufTraceSerializer,
} from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { llmsecLogRecords } from './otlp-support.ts';
import { startDetectorProcess, tempDir, writeConfig, type DetectorProcess } from './process-support.ts';

const MAX_ATTRIBUTES = 32;
const MAX_STRING_BYTES = 1_024;
const MAX_SPAN_EVENTS = 8;

let detector: DetectorProcess;

beforeAll(async () => {
  const cfg = writeConfig(tempDir(), 'c.json', {
    otlp: {
      http: '127.0.0.1:0',
      grpc: '127.0.0.1:0',
      limits: {
        max_attributes: MAX_ATTRIBUTES,
        max_string_bytes: MAX_STRING_BYTES,
        max_span_events: MAX_SPAN_EVENTS,
      },
    },
  });
  detector = await startDetectorProcess(cfg);
});

afterAll(async () => {
  detector?.kill('SIGTERM');
  await detector?.exited;
});

/** A copy of a real SDK log record with `extra` attributes more (its getters kept). */
function withAttributes(record: ReadableLogRecord, extra: number): ReadableLogRecord {
  const attributes = { ...record.attributes };
  for (let i = 0; i < extra; i++) attributes[`app.extra.${i}`] = i;
  return Object.create(record, { attributes: { value: attributes } }) as ReadableLogRecord;
}

/** Three good records of users u0..u2 and, second, one with more attributes than the cap. */
function logBatch(): ReadableLogRecord[] {
  const [a, b, c, d] = llmsecLogRecords(4, 4);
  return [a!, withAttributes(b!, MAX_ATTRIBUTES + 1), c!, d!];
}

/** Two GenAI chat spans (the first with an unusable llmsec span event) and, between them, one whose name is over the cap and one with too many events. */
function spanBatch() {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'svc' }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('t');
  const t0 = Date.now() - 60_000;
  const chat = (name: string, user: string, events = 0, broken = false): void => {
    const span = tracer.startSpan(name, {
      startTime: t0,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 10,
        'gen_ai.usage.output_tokens': 5,
        'user.id': user,
      },
    });
    for (let i = 0; i < events; i++) span.addEvent(`e${i}`, t0 + i);
    // An llmsec span event that is no event (no category, user, time): dropped, the span taken.
    if (broken) span.addEvent('llmsec.guardrail_block', { 'llmsec.event.id': 'EVT-broken' }, t0 + 1);
    span.end(t0 + 500);
  };
  chat('chat gpt-4o', 'alice', 0, true);
  chat('x'.repeat(MAX_STRING_BYTES + 1), 'mallory');
  chat('chat gpt-4o', 'mallory', MAX_SPAN_EVENTS + 1);
  chat('chat gpt-4o', 'bob');
  return exporter.getFinishedSpans();
}

async function post(path: string, type: string, body: Uint8Array | string): Promise<Response> {
  return fetch(`${detector.httpUrl}${path}`, { method: 'POST', headers: { 'Content-Type': type }, body });
}

function grpcExport(path: string, body: Uint8Array): Promise<Buffer> {
  const url = new URL(detector.grpcUrl);
  const client = new grpc.Client(url.host, grpc.credentials.createInsecure());
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(body),
      (err: grpc.ServiceError | null, response?: Buffer) => (err ? reject(err) : resolve(response!)),
    );
  }).finally(() => client.close());
}

/** The value of the sample of `name` whose labels include every one of `labels`. */
async function metric(name: string, labels: string[]): Promise<number> {
  const text = await (await fetch(`${detector.httpUrl}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && labels.every((label) => l.includes(label)));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}
const accepted = (signal: string): Promise<number> =>
  metric('llmsec_detector_records_accepted_total', [`signal="${signal}"`]);
const overCap = (signal: string): Promise<number> =>
  metric('llmsec_detector_records_rejected_total', [`signal="${signal}"`, 'reason="over_cap"']);

describe('a record past a decode cap of its own (llmsec detector process)', () => {
  it('log records: the one over max_attributes rejected alone, partial success, the rest taken', async () => {
    const records = logBatch();
    const proto = await post(
      '/v1/logs',
      'application/x-protobuf',
      ProtobufLogsSerializer.serializeRequest(records)!,
    );
    expect(proto.status).toBe(200);
    const p = ProtobufLogsSerializer.deserializeResponse(
      new Uint8Array(await proto.arrayBuffer()),
    ).partialSuccess;
    expect(Number(p?.rejectedLogRecords)).toBe(1);
    expect(p?.errorMessage).toMatch(/over_cap=1.*maxAttributes \(32\)/);

    const json = await post('/v1/logs', 'application/json', JsonLogsSerializer.serializeRequest(records)!);
    expect(json.status).toBe(200);
    const j = (await json.json()) as {
      partialSuccess?: { rejectedLogRecords?: string; errorMessage?: string };
    };
    expect(Number(j.partialSuccess?.rejectedLogRecords)).toBe(1);
    expect(j.partialSuccess?.errorMessage).toMatch(/over_cap=1.*maxAttributes \(32\)/);

    const grpcBody = await grpcExport(
      '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
      ProtobufLogsSerializer.serializeRequest(records)!,
    );
    const g = ProtobufLogsSerializer.deserializeResponse(grpcBody).partialSuccess;
    expect(Number(g?.rejectedLogRecords)).toBe(1);
    expect(g?.errorMessage).toMatch(/over_cap=1.*maxAttributes \(32\)/);

    // Three of four taken from each of the three requests; the hostile ones counted by reason.
    expect(await accepted('logs')).toBe(9);
    expect(await overCap('logs')).toBe(3);
  });

  it('spans: a name over max_string_bytes and a span over max_span_events rejected alone', async () => {
    const spans = spanBatch();
    const proto = await post(
      '/v1/traces',
      'application/x-protobuf',
      ProtobufTraceSerializer.serializeRequest(spans)!,
    );
    expect(proto.status).toBe(200);
    const p = ProtobufTraceSerializer.deserializeResponse(
      new Uint8Array(await proto.arrayBuffer()),
    ).partialSuccess;
    expect(Number(p?.rejectedSpans)).toBe(2);
    expect(p?.errorMessage).toMatch(/over_cap=2.*maxStringBytes \(1024\)/);

    const json = await post('/v1/traces', 'application/json', JsonTraceSerializer.serializeRequest(spans)!);
    expect(json.status).toBe(200);
    const j = (await json.json()) as { partialSuccess?: { rejectedSpans?: string; errorMessage?: string } };
    expect(Number(j.partialSuccess?.rejectedSpans)).toBe(2);
    expect(j.partialSuccess?.errorMessage).toMatch(/over_cap=2/);

    const grpcBody = await grpcExport(
      '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      ProtobufTraceSerializer.serializeRequest(spans)!,
    );
    expect(Number(ProtobufTraceSerializer.deserializeResponse(grpcBody).partialSuccess?.rejectedSpans)).toBe(
      2,
    );

    expect(await accepted('traces')).toBe(6);
    expect(await overCap('traces')).toBe(6);
    // Still serving.
    expect((await fetch(`${detector.httpUrl}/-/healthy`)).status).toBe(200);
  });
});
