// Overload end to end with the real OTLP/HTTP exporters: the ingest refuses the first N export
// requests (429 overloaded / 503 unavailable, Retry-After: 1), the exporters retry (checked in
// otlp-exporter-base 0.301: 429, 502, 503, 504 are retryable and Retry-After is honoured), and
// every record arrives exactly once.
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordingIngest, startHttp, type TestHttpServer } from './otlp-support.ts';

let ingest: RecordingIngest;
let server: TestHttpServer;

beforeAll(async () => {
  ingest = new RecordingIngest();
  server = await startHttp({ ingest });
});

afterAll(async () => {
  await server?.close();
});

const cases = [
  ['http/protobuf', 'overloaded', 429],
  ['http/json', 'overloaded', 429],
  ['http/protobuf', 'unavailable', 503],
] as const;

describe.each(cases)('real %s exporter against a %s ingest', (protocol, kind) => {
  it('retries after Retry-After until accepted: no record lost, none duplicated', async () => {
    ingest.records.length = 0;
    let refusals = 0;
    const answers: string[] = [];
    ingest.answer = () => {
      if (refusals < 2) {
        refusals++;
        answers.push(kind);
        return { kind, retryAfterSeconds: 1 };
      }
      answers.push('accepted');
      return { kind: 'accepted', rejected: 0 };
    };
    const url = `${server.url}/v1/logs`;
    const exporter = (protocol === 'http/json'
      ? new JsonLogExporter({ url })
      : new ProtoLogExporter({ url })) as unknown as LogRecordExporter;
    const provider = new LoggerProvider({
      processors: [
        new BatchLogRecordProcessor({ exporter, maxExportBatchSize: 512, scheduledDelayMillis: 60_000 }),
      ],
    });
    const logger = provider.getLogger('@llmsec/sdk');
    const ids = Array.from({ length: 200 }, (_, i) => `EVT-${String(i).padStart(12, '0')}`);
    for (const id of ids)
      logger.emit({ eventName: 'llmsec.guardrail_block', attributes: { 'llmsec.event.id': id } });
    const started = Date.now();
    await provider.forceFlush();
    await provider.shutdown();

    expect(answers).toEqual([kind, kind, 'accepted']);
    // Two waits of Retry-After: 1 second each.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(ingest.records.map((r) => r.attributes['llmsec.event.id'])).toEqual(ids);
  });
});
