// The OTLP/gRPC receiver's status codes, seen by a plain @grpc/grpc-js client: INVALID_ARGUMENT
// for undecodable input, RESOURCE_EXHAUSTED over the size cap (compressed or inflated),
// RESOURCE_EXHAUSTED / UNAVAILABLE with RetryInfo and pushback when the ingest refuses, partial
// success, and a client with a retry policy losing nothing under overload. The server keeps
// serving after each.
//
// Note: the OTel JS gRPC exporter 0.301 does not retry any gRPC error (its transport maps every
// error to "failure"; see otlp-grpc-exporter-base grpc-exporter-transport): the Collector's
// otlp exporter does retry RESOURCE_EXHAUSTED with RetryInfo and UNAVAILABLE.
import { Buffer } from 'node:buffer';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpGrpcServer, type OtlpGrpcServer } from '../src/otlp/grpc-server.ts';
import type { ReceiveReport } from '../src/otlp/types.ts';
import { lengthDelimited as ld, llmsecLogRecords, RecordingIngest } from './otlp-support.ts';
import { decodeStatus } from './otlp-status.ts';

const LOGS_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';
const good = Buffer.from(ProtobufLogsSerializer.serializeRequest(llmsecLogRecords(20))!);

let ingest: RecordingIngest;
let server: OtlpGrpcServer;
const reports: ReceiveReport[] = [];

beforeAll(async () => {
  ingest = new RecordingIngest();
  server = await startOtlpGrpcServer({
    port: 0,
    ingest,
    maxReceiveMessageBytes: 256 * 1024,
    observer: (r) => reports.push(r),
  });
});

afterAll(async () => {
  await server?.close();
});

afterEach(async () => {
  ingest.answer = () => ({ kind: 'accepted', rejected: 0 });
  const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  try {
    expect((await exportLogs(client, good)).error).toBeUndefined();
  } finally {
    client.close();
  }
});

interface CallResult {
  error?: grpc.ServiceError;
  response?: Buffer;
}

function exportLogs(client: grpc.Client, body: Buffer): Promise<CallResult> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      LOGS_PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      (err: grpc.ServiceError | null, response?: Buffer) =>
        resolve(err ? { error: err } : { response: response! }),
    );
  });
}

function withClient<T>(
  fn: (client: grpc.Client) => Promise<T>,
  options: grpc.ChannelOptions = {},
): Promise<T> {
  const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), options);
  return fn(client).finally(() => client.close());
}

describe('OTLP/gRPC receiver', () => {
  it('accepts a request (plain and gzip) and answers partial success with the rejected count', async () => {
    ingest.records.length = 0;
    await withClient(async (client) => {
      expect((await exportLogs(client, good)).response).toEqual(Buffer.alloc(0));
      ingest.answer = () => ({ kind: 'accepted', rejected: 4, message: 'not llmsec events' });
      const partial = await exportLogs(client, good);
      const decoded = ProtobufLogsSerializer.deserializeResponse(partial.response!);
      expect(Number(decoded.partialSuccess?.rejectedLogRecords)).toBe(4);
      expect(decoded.partialSuccess?.errorMessage).toBe('not llmsec events');
    });
    await withClient(
      async (client) => {
        ingest.answer = () => ({ kind: 'accepted', rejected: 0 });
        expect((await exportLogs(client, good)).error).toBeUndefined();
      },
      { 'grpc.default_compression_algorithm': 2 },
    );
    expect(ingest.records).toHaveLength(60);
  });

  it('INVALID_ARGUMENT for random bytes and truncated protobuf', async () => {
    await withClient(async (client) => {
      const truncated = await exportLogs(client, good.subarray(0, good.length - 5));
      expect(truncated.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(truncated.error?.details).toMatch(/truncated/);
      const random = await exportLogs(client, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
      expect(random.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    });
    expect(reports.at(-1)).toMatchObject({ transport: 'grpc', signal: 'logs', outcome: 'invalid' });
  });

  it('fuzz and deep nesting: INVALID_ARGUMENT or OK, never INTERNAL, a hang or a crash', async () => {
    let seed = 777;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    await withClient(async (client) => {
      for (let i = 0; i < 100; i++) {
        let body: Buffer;
        if (i % 2 === 0) body = Buffer.from(Uint8Array.from({ length: 1 + rand(1500) }, () => rand(256)));
        else {
          body = Buffer.from(good);
          for (let k = 0; k < 1 + rand(6); k++) body[rand(body.length)] = rand(256);
        }
        const res = await exportLogs(client, body);
        if (res.error !== undefined) expect(res.error.code).toBe(grpc.status.INVALID_ARGUMENT);
      }
      // An AnyValue array nested 200 deep inside a log record attribute.
      let value: Buffer = Buffer.from([0x0a, 0x01, 0x78]);
      for (let d = 0; d < 200; d++) value = ld(5, ld(1, value));
      const kv = Buffer.concat([ld(1, Buffer.from('k')), ld(2, value)]);
      // Past maxDepth the value is dropped, not the request (otlp-http.test.ts).
      const deep = await exportLogs(client, ld(1, ld(2, ld(2, ld(6, kv)))));
      expect(deep.error).toBeUndefined();
    });
  });

  it('RESOURCE_EXHAUSTED over the message size cap, and for a gzip bomb', async () => {
    await withClient(async (client) => {
      const big = await exportLogs(client, Buffer.alloc(1024 * 1024, 0x0a));
      expect(big.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    });
    // A small compressed message that inflates past the cap.
    expect(gzipSync(Buffer.alloc(16 * 1024 * 1024)).length).toBeLessThan(256 * 1024);
    await withClient(
      async (client) => {
        const bomb = await exportLogs(client, Buffer.alloc(16 * 1024 * 1024));
        expect(bomb.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
        expect(bomb.error?.details).toMatch(/decompresses/);
      },
      { 'grpc.default_compression_algorithm': 2, 'grpc.max_send_message_length': 32 * 1024 * 1024 },
    );
  });

  it('RESOURCE_EXHAUSTED (overloaded) and UNAVAILABLE with RetryInfo and pushback in the trailers', async () => {
    await withClient(async (client) => {
      ingest.answer = () => ({ kind: 'overloaded', retryAfterSeconds: 2 });
      const over = await exportLogs(client, good);
      expect(over.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      const details = over.error!.metadata.get('grpc-status-details-bin')[0] as Buffer;
      expect(decodeStatus(details)).toEqual({
        code: 8,
        message: 'ingest queue full; retry later',
        retryDelaySeconds: 2,
      });
      expect(over.error!.metadata.get('grpc-retry-pushback-ms')).toEqual(['2000']);
      ingest.answer = () => ({ kind: 'unavailable', retryAfterSeconds: 1 });
      const down = await exportLogs(client, good);
      expect(down.error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(
        decodeStatus(down.error!.metadata.get('grpc-status-details-bin')[0] as Buffer).retryDelaySeconds,
      ).toBe(1);
    });
    expect(reports.at(-1)).toMatchObject({ transport: 'grpc', outcome: 'unavailable', records: 20 });
  });

  it('UNAUTHENTICATED without the configured bearer token; OK with it', async () => {
    const authIngest = new RecordingIngest();
    const secured = await startOtlpGrpcServer({ port: 0, ingest: authIngest, authToken: 's3cret-token' });
    const client = new grpc.Client(`127.0.0.1:${secured.port}`, grpc.credentials.createInsecure());
    const call = (token?: string): Promise<CallResult> =>
      new Promise((resolve) => {
        const metadata = new grpc.Metadata();
        if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
        client.makeUnaryRequest(
          LOGS_PATH,
          (b: Buffer) => b,
          (b: Buffer) => b,
          good,
          metadata,
          (err: grpc.ServiceError | null, response?: Buffer) =>
            resolve(err ? { error: err } : { response: response! }),
        );
      });
    try {
      expect((await call()).error?.code).toBe(grpc.status.UNAUTHENTICATED);
      expect((await call('wrong')).error?.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(authIngest.calls).toBe(0);
      expect((await call('s3cret-token')).error).toBeUndefined();
      expect(authIngest.records).toHaveLength(20);
    } finally {
      client.close();
      await secured.close();
    }
  });

  it('a client with a gRPC retry policy gets every record through an overload (refused twice, then taken once)', async () => {
    ingest.records.length = 0;
    let refusals = 0;
    ingest.answer = () =>
      refusals++ < 2 ? { kind: 'overloaded', retryAfterSeconds: 0 } : { kind: 'accepted', rejected: 0 };
    const serviceConfig = {
      methodConfig: [
        {
          name: [{ service: 'opentelemetry.proto.collector.logs.v1.LogsService' }],
          retryPolicy: {
            maxAttempts: 5,
            initialBackoff: '0.05s',
            maxBackoff: '0.5s',
            backoffMultiplier: 2,
            retryableStatusCodes: ['RESOURCE_EXHAUSTED', 'UNAVAILABLE'],
          },
        },
      ],
    };
    await withClient(
      async (client) => {
        expect((await exportLogs(client, good)).error).toBeUndefined();
      },
      { 'grpc.service_config': JSON.stringify(serviceConfig) },
    );
    expect(refusals).toBe(3);
    expect(ingest.records).toHaveLength(20);
    expect(new Set(ingest.records.map((r) => r.attributes['llmsec.event.id'])).size).toBe(20);
  });
});
