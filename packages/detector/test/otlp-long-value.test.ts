// An attribute value over maxStringBytes (a GenAI span's captured prompt: a user's own input,
// easily past 64 KiB with a RAG context) costs its own value, not the export request: a 400
// would make the Collector drop every other record batched with it, other users' included.
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDetector } from '../src/service/detector.ts';
import type { ReceiveReport } from '../src/otlp/types.ts';
import { post, RecordingIngest, startHttp, type TestHttpServer } from './otlp-support.ts';
import { startDetectorWith } from './service-support.ts';

const LONG = 'x'.repeat(100_000);

function genaiSpans() {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracer = provider.getTracer('app');
  for (const [user, prompt] of [
    ['a', 'hello'],
    ['b', LONG],
    ['c', 'bye'],
  ] as const) {
    tracer
      .startSpan('chat gpt-4o', {
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.usage.input_tokens': 10,
          'user.id': user,
          'gen_ai.prompt.0.content': prompt,
          'bytes.like': prompt,
        },
      })
      .end();
  }
  return exporter.getFinishedSpans();
}

let server: TestHttpServer;
let ingest: RecordingIngest;
const reports: ReceiveReport[] = [];
beforeAll(async () => {
  ingest = new RecordingIngest();
  server = await startHttp({ ingest, observer: (r) => reports.push(r) });
});
afterAll(async () => {
  await server?.close();
});

describe('OTLP/HTTP: an attribute value over maxStringBytes', () => {
  for (const [format, body, type] of [
    ['protobuf', () => ProtobufTraceSerializer.serializeRequest(genaiSpans())!, 'application/x-protobuf'],
    ['json', () => JsonTraceSerializer.serializeRequest(genaiSpans())!, 'application/json'],
  ] as const) {
    it(`drops that value and keeps the request and its other records (${format})`, async () => {
      ingest.spans.length = 0;
      const res = await post(`${server.url}/v1/traces`, body(), { 'Content-Type': type });
      expect(res.status, res.body.toString()).toBe(200);
      expect(ingest.spans.map((s) => s.attributes['user.id'])).toEqual(['a', 'b', 'c']);
      const [a, b, c] = ingest.spans;
      expect(a!.attributes['gen_ai.prompt.0.content']).toBe('hello');
      expect(c!.attributes['gen_ai.prompt.0.content']).toBe('bye');
      expect(b!.attributes['gen_ai.prompt.0.content']).toBeNull();
      expect(b!.attributes['gen_ai.usage.input_tokens']).toBe(10);
      // Counted, not silent: two values of b (the prompt and bytes.like).
      expect(reports.at(-1)).toMatchObject({ outcome: 'accepted', records: 3, droppedValues: 2 });
    });
  }

  it('caps a bytes value by its bytes in JSON as in protobuf, not by its base64 (4/3 as long)', async () => {
    const body = (bytes: Buffer) =>
      JSON.stringify({
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: '0af7651916cd43dd8448eb211c80319c',
                    spanId: 'b7ad6b7169203331',
                    name: 'x',
                    attributes: [{ key: 'blob', value: { bytesValue: bytes.toString('base64') } }],
                  },
                ],
              },
            ],
          },
        ],
      });
    const post1 = async (bytes: Buffer) => {
      ingest.spans.length = 0;
      const res = await post(`${server.url}/v1/traces`, body(bytes), { 'Content-Type': 'application/json' });
      expect(res.status, res.body.toString()).toBe(200);
      return ingest.spans[0]!.attributes.blob;
    };
    // 60,000 bytes: 80,000 characters of base64, under the cap as bytes.
    expect((await post1(Buffer.alloc(60_000, 7))) as Uint8Array).toHaveLength(60_000);
    expect(reports.at(-1)!.droppedValues).toBe(0);
    expect(await post1(Buffer.alloc(65_537, 7))).toBeNull();
    expect(reports.at(-1)!.droppedValues).toBe(1);
  });

  it('hands a span whose name is over the cap as rejected (overCap), the request taken (200)', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    provider.getTracer('app').startSpan(LONG).end();
    provider.getTracer('app').startSpan('short').end();
    ingest.spans.length = 0;
    const res = await post(
      `${server.url}/v1/traces`,
      ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans())!,
      { 'Content-Type': 'application/x-protobuf' },
    );
    expect(res.status).toBe(200);
    expect(ingest.spans.map((s) => [s.name, s.overCap])).toEqual([
      ['', expect.stringMatching(/maxStringBytes/)],
      ['short', undefined],
    ]);
  });
});

describe('the detector service', () => {
  let running: RunningDetector | undefined;
  afterEach(async () => {
    await running?.shutdown();
    running = undefined;
  });

  it('counts the values it dropped on /metrics (llmsec_detector_values_dropped_total)', async () => {
    ({ detector: running } = await startDetectorWith('long-value', () => ({})));
    const http = `http://127.0.0.1:${running.http.port}`;
    const before = await (await fetch(`${http}/metrics`)).text();
    expect(before).toMatch(/llmsec_detector_values_dropped_total\{signal="traces"[^}]*\} 0/);
    const res = await post(`${http}/v1/traces`, ProtobufTraceSerializer.serializeRequest(genaiSpans())!, {
      'Content-Type': 'application/x-protobuf',
    });
    expect(res.status).toBe(200);
    const after = await (await fetch(`${http}/metrics`)).text();
    expect(after).toMatch(/llmsec_detector_values_dropped_total\{signal="traces"[^}]*\} 2/);
  });
});
