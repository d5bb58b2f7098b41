// An attribute value over maxStringBytes (a GenAI span's captured prompt: a user's own input,
// easily past 64 KiB with a RAG context) costs its own value, not the export request: a 400
// would make the Collector drop every other record batched with it, other users' included.
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, RecordingIngest, startHttp, type TestHttpServer } from './otlp-support.ts';

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
beforeAll(async () => {
  ingest = new RecordingIngest();
  server = await startHttp({ ingest });
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
    });
  }

  it('still refuses a request whose name or key is over the cap (400)', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    provider.getTracer('app').startSpan(LONG).end();
    const res = await post(
      `${server.url}/v1/traces`,
      ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans())!,
      { 'Content-Type': 'application/x-protobuf' },
    );
    expect(res.status).toBe(400);
  });
});
