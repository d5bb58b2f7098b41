// The receivers answer an accepted export once the service's `settled` promise settles (with
// Redis state: once the export's events are shipped, so a sender awaiting each answer is
// ordered across replicas), not when the records are taken; a rejected `settled` still answers
// OK (the records were taken), with the partial success the service gave.
import { Buffer } from 'node:buffer';
import { request } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpGrpcServer, type OtlpGrpcServer } from '../src/otlp/grpc-server.ts';
import type { ReceiveReport } from '../src/otlp/types.ts';
import { llmsecLogRecords, post, RecordingIngest, startHttp, type TestHttpServer } from './otlp-support.ts';

const LOGS_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';
const body = Buffer.from(ProtobufLogsSerializer.serializeRequest(llmsecLogRecords(3))!);

const ingest = new RecordingIngest();
const reports: ReceiveReport[] = [];
let http: TestHttpServer;
let grpcServer: OtlpGrpcServer;

beforeAll(async () => {
  http = await startHttp({ ingest, observer: (r) => reports.push(r) });
  grpcServer = await startOtlpGrpcServer({ port: 0, ingest, observer: (r) => reports.push(r) });
});

afterAll(async () => {
  await http?.close();
  await grpcServer?.close();
});

/** The next export's `settled`, released or failed by the test. */
function holdNext(rejected = 0): { release: () => void; fail: () => void } {
  let release!: () => void;
  let fail!: () => void;
  const settled = new Promise<void>((resolve, reject) => {
    release = resolve;
    fail = () => reject(new Error('not shipped'));
  });
  ingest.answer = () => ({ kind: 'accepted', rejected, settled, ...(rejected > 0 && { message: 'n/a' }) });
  return { release, fail };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sendHttp(): { done: () => boolean; answer: Promise<{ status: number; body: Buffer }> } {
  let finished = false;
  const answer = post(`${http.url}/v1/logs`, body, { 'content-type': 'application/x-protobuf' }).finally(
    () => (finished = true),
  );
  return { done: () => finished, answer };
}

function sendGrpc(client: grpc.Client): { done: () => boolean; answer: Promise<Buffer> } {
  let finished = false;
  const answer = new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(
      LOGS_PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      (err: grpc.ServiceError | null, response?: Buffer) => {
        finished = true;
        if (err) reject(err);
        else resolve(response!);
      },
    );
  });
  return { done: () => finished, answer };
}

describe('OTLP receivers: the answer waits for settled', () => {
  it('HTTP: 200 only once settled; a failed settle still answers 200 with the partial success', async () => {
    const held = holdNext();
    reports.length = 0;
    const first = sendHttp();
    await tick(150);
    expect(ingest.calls).toBeGreaterThan(0);
    expect(first.done()).toBe(false);
    expect(reports).toEqual([]);
    held.release();
    expect((await first.answer).status).toBe(200);
    expect(reports.map((r) => r.outcome)).toEqual(['accepted']);

    const failing = holdNext(2);
    const second = sendHttp();
    await tick(100);
    expect(second.done()).toBe(false);
    failing.fail();
    const res = await second.answer;
    expect(res.status).toBe(200);
    expect(Number(ProtobufLogsSerializer.deserializeResponse(res.body).partialSuccess?.rejectedLogRecords)).toBe(
      2,
    );
  });

  it('HTTP: a sender gone while its answer waits: nothing thrown, the next export answered', async () => {
    const rejections: unknown[] = [];
    const onRejection = (err: unknown): void => void rejections.push(err);
    process.on('unhandledRejection', onRejection);
    try {
      const held = holdNext();
      reports.length = 0;
      const calls = ingest.calls;
      const req = request(`${http.url}/v1/logs`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf' },
        agent: false,
      });
      req.on('error', () => {}); // the abort below
      req.end(body);
      while (ingest.calls === calls) await tick(10);
      req.destroy();
      await tick(100);
      held.release();
      await tick(50);
      // Taken (the records were ingested), reported once the wait ended; nothing sent, nothing thrown.
      expect(reports.map((r) => r.outcome)).toEqual(['accepted']);
      ingest.answer = () => ({ kind: 'accepted', rejected: 0 });
      expect((await sendHttp().answer).status).toBe(200);
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it('gRPC: OK only once settled; a failed settle still answers OK with the partial success', async () => {
    const client = new grpc.Client(`127.0.0.1:${grpcServer.port}`, grpc.credentials.createInsecure());
    try {
      const held = holdNext();
      reports.length = 0;
      const first = sendGrpc(client);
      await tick(150);
      expect(first.done()).toBe(false);
      expect(reports).toEqual([]);
      held.release();
      expect(await first.answer).toEqual(Buffer.alloc(0));
      expect(reports.map((r) => r.outcome)).toEqual(['accepted']);

      const failing = holdNext(2);
      const second = sendGrpc(client);
      await tick(100);
      expect(second.done()).toBe(false);
      failing.fail();
      const decoded = ProtobufLogsSerializer.deserializeResponse(await second.answer);
      expect(Number(decoded.partialSuccess?.rejectedLogRecords)).toBe(2);
    } finally {
      client.close();
    }
  });
});
