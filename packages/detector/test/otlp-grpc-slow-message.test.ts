// A gRPC sender trickling its message (slowloris over HTTP/2): grpc-js gives a unary call no
// deadline for receiving its message, so a stream sent a byte every 200 ms held its slot and
// the bytes buffered so far for as long as the sender liked (checked: still open after 20 s).
// The server now ages connections out (maxConnectionAgeMs: GOAWAY, then closed after the
// grace), which ends such a stream; a well-behaved client reconnects and is served.
import { connect } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpGrpcServer, type OtlpGrpcServer } from '../src/otlp/grpc-server.ts';
import { llmsecLogRecords, RecordingIngest } from './otlp-support.ts';

const LOGS_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';
let server: OtlpGrpcServer;
const ingest = new RecordingIngest();

beforeAll(async () => {
  server = await startOtlpGrpcServer({
    port: 0,
    ingest,
    maxConnectionAgeMs: 1_000,
    maxConnectionAgeGraceMs: 1_000,
  });
});
afterAll(async () => {
  await server?.close();
});

describe('OTLP/gRPC: a message trickled a byte at a time', () => {
  it('is cut off once the connection is aged out, and a client that reconnects is served', async () => {
    const session = connect(`http://127.0.0.1:${server.port}`);
    session.on('error', () => {});
    const stream = session.request({
      ':method': 'POST',
      ':path': LOGS_PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stream.on('error', () => {});
    const t0 = Date.now();
    const closed = new Promise<number>((resolve) => stream.on('close', () => resolve(Date.now() - t0)));
    stream.write(Buffer.from([0, 0, 0, 0x03, 0xe8])); // a 1,000-byte message announced
    const trickle = setInterval(() => {
      if (!stream.closed && !stream.destroyed) stream.write(Buffer.from([0]));
    }, 200);
    const outcome = await Promise.race([
      closed,
      new Promise<'open'>((r) => setTimeout(() => r('open'), 8_000)),
    ]);
    clearInterval(trickle);
    session.destroy();
    // Age 1 s (±10%) + grace 1 s; before: still open at 8 s (and at 20 s).
    expect(outcome).not.toBe('open');
    expect(outcome as number).toBeLessThan(6_000);
    expect(ingest.records).toHaveLength(0); // nothing half-received was handed on

    const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    try {
      const body = Buffer.from(ProtobufLogsSerializer.serializeRequest(llmsecLogRecords(3))!);
      await new Promise<void>((resolve, reject) =>
        client.makeUnaryRequest(
          LOGS_PATH,
          (b: Buffer) => b,
          (b: Buffer) => b,
          body,
          (err: grpc.ServiceError | null) => (err ? reject(err) : resolve()),
        ),
      );
    } finally {
      client.close();
    }
    expect(ingest.records).toHaveLength(3);
  });
});
