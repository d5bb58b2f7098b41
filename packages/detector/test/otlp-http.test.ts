// The OTLP/HTTP handler's answers: partial success, every refusal status with its Status body,
// and hostile input (random bytes, truncated protobuf, JSON of the wrong shape, a 10 MB body, a
// gzip bomb, deep nesting, slow and aborted bodies). After each, a good request still works.
import { Buffer } from 'node:buffer';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import {
  JsonLogsSerializer,
  ProtobufLogsSerializer,
  ProtobufTraceSerializer,
} from '@opentelemetry/otlp-transformer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createOtlpHttpHandler } from '../src/otlp/http-handler.ts';
import {
  lengthDelimited,
  llmsecLogRecords,
  post,
  RecordingIngest,
  startHttp,
  type TestHttpServer,
} from './otlp-support.ts';
import { decodeStatus } from './otlp-status.ts';

const PROTO = { 'Content-Type': 'application/x-protobuf' };
const JSON_CT = { 'Content-Type': 'application/json' };

let ingest: RecordingIngest;
let server: TestHttpServer;
const records = llmsecLogRecords(20);
const goodProto = ProtobufLogsSerializer.serializeRequest(records)!;
const goodJson = JsonLogsSerializer.serializeRequest(records)!;
// Made once here, not inside the 413 test: compressing 64 MB blocks the event loop that the
// in-process server drains the previous refused bodies on.
const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));

beforeAll(async () => {
  ingest = new RecordingIngest();
  // 1.5 s for a body: the stall test waits that long; a loaded machine needs the margin for 10 MB.
  server = await startHttp({ ingest, maxBodyBytes: 1024 * 1024, bodyTimeoutMs: 1_500 });
});

afterAll(async () => {
  await server?.close();
});

afterEach(async () => {
  // The server keeps serving whatever the previous request did.
  ingest.answer = () => ({ kind: 'accepted', rejected: 0 });
  const res = await post(`${server.url}/v1/logs`, goodProto, PROTO);
  expect(res.status).toBe(200);
});

const logsUrl = (): string => `${server.url}/v1/logs`;

async function expectStatus(
  res: { status: number; headers: Record<string, unknown>; body: Buffer },
  status: number,
  code: number,
  format: 'protobuf' | 'json',
): Promise<void> {
  expect(res.status).toBe(status);
  if (format === 'protobuf') {
    expect(res.headers['content-type']).toBe('application/x-protobuf');
    expect(decodeStatus(res.body).code).toBe(code);
  } else {
    expect(res.headers['content-type']).toBe('application/json');
    expect((JSON.parse(res.body.toString()) as { code: number }).code).toBe(code);
  }
}

describe('OTLP/HTTP answers', () => {
  it('200 with an empty export response when everything is taken; decoded records reach the ingest', async () => {
    ingest.records.length = 0;
    const res = await post(logsUrl(), goodProto, PROTO);
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    expect(ProtobufLogsSerializer.deserializeResponse(res.body)).toEqual({});
    expect(ingest.records).toHaveLength(20);
    const json = await post(logsUrl(), goodJson, JSON_CT);
    expect(json.status).toBe(200);
    expect(JSON.parse(json.body.toString())).toEqual({});
    expect(ingest.records).toHaveLength(40);
  });

  it('200 with partial_success (rejected count and message) in protobuf and JSON, read by the real response decoders', async () => {
    ingest.answer = () => ({ kind: 'accepted', rejected: 3, message: '3 records are not llmsec events' });
    const proto = await post(logsUrl(), goodProto, PROTO);
    expect(proto.status).toBe(200);
    const decoded = ProtobufLogsSerializer.deserializeResponse(proto.body);
    expect(decoded.partialSuccess?.errorMessage).toBe('3 records are not llmsec events');
    expect(Number(decoded.partialSuccess?.rejectedLogRecords)).toBe(3);
    const json = await post(logsUrl(), goodJson, JSON_CT);
    expect(json.status).toBe(200);
    const jd = JsonLogsSerializer.deserializeResponse(json.body);
    expect(jd.partialSuccess?.errorMessage).toBe('3 records are not llmsec events');
    expect(Number(jd.partialSuccess?.rejectedLogRecords)).toBe(3);

    // Traces answer with rejected_spans.
    ingest.answer = () => ({ kind: 'accepted', rejected: 1 });
    const traces = await post(`${server.url}/v1/traces`, new Uint8Array(0), PROTO);
    expect(traces.status).toBe(200);
    // No spans in an empty request: rejected is clamped to the records received (0).
    expect(ProtobufTraceSerializer.deserializeResponse(traces.body)).toEqual({});
  });

  it('429 (overloaded) and 503 (unavailable) with Retry-After and a Status carrying RetryInfo', async () => {
    ingest.answer = () => ({ kind: 'overloaded', retryAfterSeconds: 2.2 });
    const over = await post(logsUrl(), goodProto, PROTO);
    await expectStatus(over, 429, 8, 'protobuf');
    expect(over.headers['retry-after']).toBe('3');
    expect(decodeStatus(over.body).retryDelaySeconds).toBe(3);
    ingest.answer = () => ({ kind: 'unavailable', retryAfterSeconds: 5 });
    const unavailable = await post(logsUrl(), goodJson, JSON_CT);
    await expectStatus(unavailable, 503, 14, 'json');
    expect(unavailable.headers['retry-after']).toBe('5');
    expect(JSON.parse(unavailable.body.toString())).toMatchObject({
      details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '5s' }],
    });
  });

  it('503 when the ingest throws (the sender retries; nothing is dropped silently)', async () => {
    ingest.answer = () => {
      throw new Error('bug in the service');
    };
    const res = await post(logsUrl(), goodProto, PROTO);
    await expectStatus(res, 503, 14, 'protobuf');
    expect(res.headers['retry-after']).toBe('1');
  });

  it('415 for another or a missing content type and for an unsupported content encoding', async () => {
    await expectStatus(await post(logsUrl(), 'hello', { 'Content-Type': 'text/plain' }), 415, 3, 'json');
    await expectStatus(await post(logsUrl(), goodProto, {}), 415, 3, 'json');
    await expectStatus(
      await post(logsUrl(), goodProto, { ...PROTO, 'Content-Encoding': 'br' }),
      415,
      3,
      'protobuf',
    );
    // Parameters and case do not matter.
    expect(
      (await post(logsUrl(), goodJson, { 'Content-Type': 'Application/JSON; charset=utf-8' })).status,
    ).toBe(200);
  });

  it('405 with Allow for other methods; other paths are left to the caller', async () => {
    const res = await post(logsUrl(), '', {}, 'GET');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect((await post(`${server.url}/-/healthy`, '', {}, 'GET')).status).toBe(404);
    expect((await post(`${server.url}/v1/metrics`, goodProto, PROTO)).status).toBe(404);
  });
});

describe('OTLP/HTTP hostile input', () => {
  it('400 for truncated protobuf, a wrong wire type and bad gzip', async () => {
    const truncated = goodProto.subarray(0, goodProto.length - 7);
    await expectStatus(await post(logsUrl(), truncated, PROTO), 400, 3, 'protobuf');
    // Field 1 (resource_logs) as a varint instead of a message.
    await expectStatus(await post(logsUrl(), Uint8Array.of(0x08, 0x01), PROTO), 400, 3, 'protobuf');
    await expectStatus(
      await post(logsUrl(), Buffer.from('not gzip'), { ...PROTO, 'Content-Encoding': 'gzip' }),
      400,
      3,
      'protobuf',
    );
  });

  it('400 for invalid JSON and JSON of the wrong shape', async () => {
    const bad = [
      '{"resourceLogs": [',
      '[]',
      '"text"',
      '{"resourceLogs": {}}',
      '{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"attributes": "x"}]}]}]}',
      '{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "soon"}]}]}]}',
      '{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"attributes": [{"key": "k", "value": {"intValue": "1.5"}}]}]}]}]}',
    ];
    for (const body of bad) await expectStatus(await post(logsUrl(), body, JSON_CT), 400, 3, 'json');
    // Unknown fields are ignored, as OTLP/JSON requires.
    const extra =
      '{"resourceLogs": [{"futureField": 1, "scopeLogs": [{"logRecords": [{"eventName": "x", "newThing": {}}]}]}]}';
    expect((await post(logsUrl(), extra, JSON_CT)).status).toBe(200);
  });

  it('AnyValue nested past the depth cap: that value dropped (null), the record kept, in protobuf and JSON', async () => {
    // AnyValue{ array_value { values: AnyValue{ array_value { ... } } } } 100 levels deep.
    let value: Uint8Array = Uint8Array.of(0x0a, 0x01, 0x78); // string_value "x"
    for (let i = 0; i < 100; i++) value = lengthDelimited(5, lengthDelimited(1, value));
    const kv = Buffer.concat([lengthDelimited(1, Buffer.from('deep')), lengthDelimited(2, value)]);
    const body = lengthDelimited(1, lengthDelimited(2, lengthDelimited(2, lengthDelimited(6, kv))));
    ingest.records.length = 0;
    expect((await post(logsUrl(), body, PROTO)).status).toBe(200);
    // 16 arrays kept (maxDepth), the 17th level dropped.
    let kept: unknown = ingest.records[0]!.attributes.deep;
    for (let i = 0; i < 16; i++) kept = (kept as unknown[])[0];
    expect(kept).toBeNull();

    let json = '{"stringValue":"x"}';
    for (let i = 0; i < 100; i++) json = `{"arrayValue":{"values":[${json}]}}`;
    const jbody = `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":${json}}]}]}]}`;
    expect((await post(logsUrl(), jbody, JSON_CT)).status).toBe(200);
    // Raw JSON nesting far beyond any stack: still a clean 400.
    const brackets = '['.repeat(500_000) + ']'.repeat(500_000);
    await expectStatus(await post(logsUrl(), brackets, JSON_CT), 400, 3, 'json');
  });

  it('413 for a 10 MB body, declared or chunked, and for a gzip bomb', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024, 0x0a);
    await expectStatus(await post(logsUrl(), big, PROTO), 413, 8, 'protobuf');
    const chunked = await postChunked(logsUrl(), big, PROTO);
    expect(chunked).toBe(413);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const res = await post(logsUrl(), bomb, { ...PROTO, 'Content-Encoding': 'gzip' });
    await expectStatus(res, 413, 8, 'protobuf');
    expect(decodeStatus(res.body).message).toMatch(/decompressed/);
  });

  it('408 for a body that stalls, and a sender that aborts mid-body does not break the server', async () => {
    const stalled = await new Promise<number>((resolve, reject) => {
      const req = request(
        logsUrl(),
        { method: 'POST', headers: { ...PROTO, 'Content-Length': '1000' }, agent: false },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write(goodProto.subarray(0, 10));
    });
    expect(stalled).toBe(408);
    await new Promise<void>((resolve) => {
      const req = request(logsUrl(), {
        method: 'POST',
        headers: { ...PROTO, 'Content-Length': '1000' },
        agent: false,
      });
      req.on('error', () => resolve());
      req.write(goodProto.subarray(0, 10), () => {
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 20);
      });
    });
  });

  it('fuzz: random bytes and random mutations of a valid request get 200 or 400, never a hang or a crash', async () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 150; i++) {
      let body: Uint8Array;
      if (i % 3 === 0) {
        body = Uint8Array.from({ length: 1 + rand(2000) }, () => rand(256));
      } else {
        body = Uint8Array.from(goodProto);
        for (let k = 0; k < 1 + rand(8); k++) body[rand(body.length)] = rand(256);
        if (i % 3 === 2) body = body.subarray(0, rand(body.length));
      }
      const res = await post(logsUrl(), body, PROTO);
      expect([200, 400]).toContain(res.status);
      if (res.status === 400) expect(decodeStatus(res.body).code).toBe(3);
    }
  });
});

describe('OTLP/HTTP bearer token', () => {
  it('401 with WWW-Authenticate without the configured token, before reading the body; the real exporter with headers gets through', async () => {
    const authIngest = new RecordingIngest();
    const secured = await startHttp({ ingest: authIngest, authToken: 's3cret-token' });
    const url = `${secured.url}/v1/logs`;
    try {
      const none = await post(url, goodProto, PROTO);
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer');
      expect(decodeStatus(none.body).code).toBe(16);
      expect((await post(url, goodProto, { ...PROTO, Authorization: 'Bearer wrong' })).status).toBe(401);
      expect(
        (await post(url, goodProto, { ...PROTO, Authorization: 'Bearer s3cret-token-and-more' })).status,
      ).toBe(401);
      expect(authIngest.calls).toBe(0);
      expect((await post(url, goodProto, { ...PROTO, Authorization: 'Bearer s3cret-token' })).status).toBe(
        200,
      );
      const exporter = new ProtoLogExporter({ url, headers: { Authorization: 'Bearer s3cret-token' } });
      const result = await new Promise<{ code: number }>((resolve) =>
        exporter.export(records as never, resolve),
      );
      expect(result.code).toBe(0);
      expect(authIngest.records).toHaveLength(40);
      expect(() => createOtlpHttpHandler({ ingest, authToken: 'has space' })).toThrow(/authToken/);
    } finally {
      await secured.close();
    }
  });
});

describe('OTLP/HTTP in-flight byte budget', () => {
  it('refuses with 429 + Retry-After while other bodies hold the budget, and every outcome gives its bytes back', async () => {
    const small = await startHttp({
      ingest,
      maxBodyBytes: 64 * 1024,
      maxDecompressedBytes: 64 * 1024,
      maxInflightBytes: 128 * 1024,
      bodyTimeoutMs: 2_000,
    });
    const url = `${small.url}/v1/logs`;
    try {
      // Every kind of ending, twice over the budget in total: nothing may stay held.
      for (let i = 0; i < 8; i++) {
        expect((await post(url, goodProto, PROTO)).status).toBe(200);
        expect((await post(url, goodProto.subarray(0, 100), PROTO)).status).toBe(400);
        expect((await post(url, gzipSync(goodProto), { ...PROTO, 'Content-Encoding': 'gzip' })).status).toBe(
          200,
        );
        expect(
          (await post(url, gzipSync(Buffer.alloc(200 * 1024)), { ...PROTO, 'Content-Encoding': 'gzip' }))
            .status,
        ).toBe(413);
        expect(await postChunked(url, Buffer.alloc(100 * 1024, 0x0a), PROTO)).toBe(413);
      }
      // Two senders hold 2 × 63 KiB of unfinished bodies: a third body does not fit.
      const holders = [0, 1].map(() => {
        const req = request(url, {
          method: 'POST',
          headers: { ...PROTO, 'Content-Length': String(64 * 1024) },
          agent: false,
        });
        req.on('error', () => {});
        req.write(Buffer.alloc(63 * 1024, 0x0a));
        return req;
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(goodProto.length).toBeGreaterThan(2 * 1024);
      const refused = await post(url, goodProto, PROTO);
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toBe('1');
      expect(decodeStatus(refused.body)).toMatchObject({ code: 8, retryDelaySeconds: 1 });
      for (const h of holders) h.destroy();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await post(url, goodProto, PROTO)).status).toBe(200);
      expect(() =>
        createOtlpHttpHandler({
          ingest,
          maxBodyBytes: 1000,
          maxDecompressedBytes: 1000,
          maxInflightBytes: 1500,
        }),
      ).toThrow(/maxInflightBytes/);
    } finally {
      await small.close();
    }
  });
});

/** POSTs with chunked transfer encoding (no Content-Length) and resolves with the status. */
function postChunked(url: string, body: Buffer, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    // Stops writing once answered; a write error after the answer is not the outcome (post).
    let answered = false;
    const req = request(url, { method: 'POST', headers, agent: false }, (res) => {
      answered = true;
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    let offset = 0;
    const writeMore = (): void => {
      while (offset < body.length && !answered) {
        const chunk = body.subarray(offset, offset + 64 * 1024);
        offset += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', writeMore);
          return;
        }
      }
      req.end();
    };
    writeMore();
  });
}
