// The receivers' options set in the config file reach both receivers of the running service:
// the bearer token (from a token file), the decode limits, the body caps, the body timeout,
// the in-flight byte budget and gRPC's concurrent streams (read from its HTTP/2 SETTINGS).
import { Buffer } from 'node:buffer';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:http2';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDetector } from '../src/service/detector.ts';
import { llmsecLogRecords, post } from './otlp-support.ts';
import { startDetectorWith } from './service-support.ts';
import { grpcExportLogs, startSlowExport } from './slow-export.ts';

const KiB = 1024;
const TOKEN = 'detector-test-token';
const small = Buffer.from(ProtobufLogsSerializer.serializeRequest(llmsecLogRecords(5))!);
const tooMany = Buffer.from(ProtobufLogsSerializer.serializeRequest(llmsecLogRecords(11))!);

let detector: RunningDetector;
let http: string;
let grpcAddress: string;

beforeAll(async () => {
  ({ detector } = await startDetectorWith('receiver-options', (dir) => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    return {
      otlp: {
        http: '127.0.0.1:0',
        grpc: '127.0.0.1:0',
        auth_token_file: tokenFile,
        max_body_bytes: 64 * KiB,
        max_decompressed_bytes: 64 * KiB,
        max_inflight_bytes: 160 * KiB,
        body_timeout: '3s',
        max_concurrent_streams: 3,
        limits: { max_records: 10 },
      },
    };
  }));
  http = `http://127.0.0.1:${detector.http.port}`;
  grpcAddress = `127.0.0.1:${detector.grpc.port}`;
});

afterAll(async () => {
  await detector?.shutdown();
});

const headers = { 'content-type': 'application/x-protobuf', authorization: `Bearer ${TOKEN}` };

describe('receiver options from the config file', () => {
  it('requires the bearer token read from auth_token_file, on HTTP and gRPC', async () => {
    const none = await post(`${http}/v1/logs`, small, { 'content-type': 'application/x-protobuf' });
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    const wrong = await post(`${http}/v1/logs`, small, { ...headers, authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    expect((await post(`${http}/v1/logs`, small, headers)).status).toBe(200);

    expect((await grpcExportLogs(grpcAddress, small)).code).toBe(grpc.status.UNAUTHENTICATED);
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${TOKEN}`);
    expect((await grpcExportLogs(grpcAddress, small, md)).code).toBe(grpc.status.OK);
    // The operational routes stay open (probes and Prometheus carry no token).
    expect((await fetch(`${http}/-/ready`)).status).toBe(200);
  });

  it('applies limits.max_records to both receivers', async () => {
    const viaHttp = await post(`${http}/v1/logs`, tooMany, headers);
    expect(viaHttp.status).toBe(400);
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${TOKEN}`);
    expect((await grpcExportLogs(grpcAddress, tooMany, md)).code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('applies max_body_bytes and max_decompressed_bytes', async () => {
    const big = Buffer.alloc(65 * KiB, 0x41);
    expect((await post(`${http}/v1/logs`, big, headers)).status).toBe(413);
    // 65 KiB inflated from a small gzip body: the decompressed cap, not the wire cap.
    const bomb = gzipSync(Buffer.alloc(65 * KiB));
    expect(bomb.length).toBeLessThan(4 * KiB);
    expect((await post(`${http}/v1/logs`, bomb, { ...headers, 'content-encoding': 'gzip' })).status).toBe(
      413,
    );
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${TOKEN}`);
    expect((await grpcExportLogs(grpcAddress, big, md)).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it('answers 408 to a body slower than body_timeout', async () => {
    const slow = await startSlowExport(`${http}/v1/logs`, small, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const answer = await slow.answer;
    expect(answer.status).toBe(408);
    // The configured 3 s ended it, not the default 10 s: the server says which bound it hit,
    // measured on its own clock from the request's start. (Timed here, "under 5 s" left 2 s
    // for a loaded host to answer in.)
    expect(answer.body.toString('utf8')).toContain('body not received within 3000 ms');
  }, 30_000);

  it('answers 429 past max_inflight_bytes while other bodies hold the budget', async () => {
    const body = Buffer.alloc(64 * KiB, 0x41);
    const auth = { headers: { authorization: `Bearer ${TOKEN}` }, firstBytes: 60 * KiB };
    // Two requests hold 120 KiB of the 160 KiB budget until their body timeout (3 s)…
    const held = [
      await startSlowExport(`${http}/v1/logs`, body, auth),
      await startSlowExport(`${http}/v1/logs`, body, auth),
    ];
    // …so a third 64 KiB body does not fit: refused whole, retryable. (Until the server has
    // read the held bytes, the third is read whole and refused as the garbage it is: 400. Asked
    // again while the held ones are unanswered, however long the server takes to read them.)
    let heldAnswered = false;
    const answered = (): void => {
      heldAnswered = true;
    };
    for (const h of held) void h.answer.then(answered, answered);
    let third = await post(`${http}/v1/logs`, body, headers);
    while (third.status === 400 && !heldAnswered) third = await post(`${http}/v1/logs`, body, headers);
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBe('1');
    for (const h of held) expect((await h.answer).status).toBe(408);
    // The budget is released: a request fits again.
    expect((await post(`${http}/v1/logs`, small, headers)).status).toBe(200);
  }, 15_000);

  it('advertises max_concurrent_streams in the gRPC server SETTINGS', async () => {
    const session = connect(`http://${grpcAddress}`);
    try {
      const settings = await new Promise<{ maxConcurrentStreams?: number }>((resolve, reject) => {
        session.once('remoteSettings', resolve);
        session.once('error', reject);
      });
      expect(settings.maxConcurrentStreams).toBe(3);
    } finally {
      session.destroy();
    }
  });
});
