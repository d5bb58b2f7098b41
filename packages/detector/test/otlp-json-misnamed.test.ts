// An OTLP/JSON body whose records sit under a key the receiver does not read (another signal's
// request, or proto field names such as resource_logs) decoded as an empty request: 200, nothing
// taken, nothing counted, the sender told nothing. Now it is a 400 naming the key, through the
// HTTP receiver as a sender sees it; an empty request and unknown fields beside the right keys
// are still taken.
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { decodeLogs, decodeTraces } from '../src/otlp/decode.ts';
import { resolveDecodeLimits } from '../src/otlp/limits.ts';
import { post, RecordingIngest, startHttp } from './otlp-support.ts';

const limits = resolveDecodeLimits();
const json = (v: unknown): Uint8Array => Buffer.from(JSON.stringify(v));
const record = {
  eventName: 'llmsec.guardrail_block',
  attributes: [{ key: 'user.id', value: { stringValue: 'u' } }],
};
const span = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: 'chat' };
const logsBody = { resourceLogs: [{ scopeLogs: [{ logRecords: [record] }] }] };
const tracesBody = { resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] };

function error(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  return 'decoded';
}

describe('OTLP/JSON: records under a key the receiver does not read', () => {
  it('another signal posted to the logs or traces path is refused, naming where it belongs', () => {
    expect(error(() => decodeTraces(json(logsBody), 'json', limits))).toBe(
      'ExportTraceServiceRequest has no resourceSpans but resourceLogs: a logs request: POST it to /v1/logs',
    );
    expect(error(() => decodeLogs(json(tracesBody), 'json', limits))).toBe(
      'ExportLogsServiceRequest has no resourceLogs but resourceSpans: a traces request: POST it to /v1/traces',
    );
    expect(error(() => decodeLogs(json({ resourceMetrics: [{}] }), 'json', limits))).toMatch(
      /has no resourceLogs but resourceMetrics: a metrics request: the detector takes logs \(\/v1\/logs\) and traces/,
    );
    expect(error(() => decodeTraces(json({ resource_logs: [] }), 'json', limits))).toMatch(
      /has no resourceSpans but resource_logs: a logs request/,
    );
  });

  it('proto field names (snake_case) are refused at each level that holds records', () => {
    expect(error(() => decodeLogs(json({ resource_logs: logsBody.resourceLogs }), 'json', limits))).toBe(
      'ExportLogsServiceRequest has resource_logs, not resourceLogs: OTLP/JSON keys are lowerCamelCase, not proto field names',
    );
    expect(error(() => decodeLogs(json({ resourceLogs: [{ scope_logs: [] }] }), 'json', limits))).toMatch(
      /^ResourceLogs has scope_logs, not scopeLogs/,
    );
    expect(
      error(() =>
        decodeLogs(json({ resourceLogs: [{ scopeLogs: [{ log_records: [record] }] }] }), 'json', limits),
      ),
    ).toMatch(/^ScopeLogs has log_records, not logRecords/);
    expect(error(() => decodeTraces(json({ resource_spans: [] }), 'json', limits))).toMatch(
      /^ExportTraceServiceRequest has resource_spans, not resourceSpans/,
    );
    expect(error(() => decodeTraces(json({ resourceSpans: [{ scope_spans: [] }] }), 'json', limits))).toMatch(
      /^ResourceSpans has scope_spans, not scopeSpans/,
    );
  });

  it('the right keys, an empty request and unknown fields beside them still decode', () => {
    expect(decodeLogs(json(logsBody), 'json', limits)).toHaveLength(1);
    expect(decodeTraces(json(tracesBody), 'json', limits)).toHaveLength(1);
    expect(decodeLogs(json({}), 'json', limits)).toHaveLength(0);
    expect(decodeTraces(json({}), 'json', limits)).toHaveLength(0);
    // Both forms at once: the camelCase key is read, the other ignored as any unknown field.
    const both = { ...logsBody, resource_logs: [], resourceSpans: [], futureField: 1 };
    expect(decodeLogs(json(both), 'json', limits)).toHaveLength(1);
  });
});

describe('OTLP/HTTP JSON: a sender of a misnamed body is told', () => {
  it('logs posted to /v1/traces get 400 with the reason, not 200 with nothing taken', async () => {
    const ingest = new RecordingIngest();
    const server = await startHttp({ ingest });
    try {
      const headers = { 'Content-Type': 'application/json' };
      const wrongPath = await post(`${server.url}/v1/traces`, JSON.stringify(logsBody), headers);
      expect(wrongPath.status).toBe(400);
      expect((JSON.parse(wrongPath.body.toString()) as { message: string }).message).toMatch(
        /no resourceSpans but resourceLogs: a logs request: POST it to \/v1\/logs/,
      );
      const snake = await post(`${server.url}/v1/logs`, JSON.stringify({ resource_logs: [] }), headers);
      expect(snake.status).toBe(400);
      expect(ingest.calls).toBe(0);
      const right = await post(`${server.url}/v1/logs`, JSON.stringify(logsBody), headers);
      expect(right.status).toBe(200);
      expect(ingest.records).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});
