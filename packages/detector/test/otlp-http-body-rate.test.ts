// The handler's minimum body rate (minBodyBytesPerSecond after bodyRateGraceMs, under
// bodyTimeoutMs): a slow trickle is cut at the grace plus a millisecond per byte (at 1,000
// bytes/s), a body arriving steadily above the rate is taken though it takes past the grace.
import { Buffer } from 'node:buffer';
import { connect } from 'node:net';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { llmsecLogRecords, RecordingIngest, startHttp, type TestHttpServer } from './otlp-support.ts';

const goodProto = Buffer.from(ProtobufLogsSerializer.serializeRequest(llmsecLogRecords(20))!);

let ingest: RecordingIngest;
let server: TestHttpServer;
beforeAll(async () => {
  ingest = new RecordingIngest();
  server = await startHttp({
    ingest,
    bodyTimeoutMs: 30_000,
    minBodyBytesPerSecond: 1_000,
    bodyRateGraceMs: 500,
  });
});
afterAll(async () => {
  await server?.close();
});

/** Sends `body` in `pieces` pieces `everyMs` apart on a raw socket; resolves with the status line and the time taken. */
function paced(
  body: Buffer,
  pieces: number,
  everyMs: number,
): Promise<{ status: string; ms: number; sent: number }> {
  const port = Number(new URL(server.url).port);
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const t0 = Date.now();
  let got = '';
  let sent = 0;
  socket.write(
    `POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${body.length}\r\n\r\n`,
  );
  const size = Math.ceil(body.length / pieces);
  const timer = setInterval(() => {
    if (socket.destroyed || sent >= body.length) return clearInterval(timer);
    socket.write(body.subarray(sent, sent + size));
    sent = Math.min(body.length, sent + size);
  }, everyMs);
  return new Promise((resolve) => {
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n')) {
        clearInterval(timer);
        socket.destroy();
        resolve({ status: got.slice(0, got.indexOf('\r\n')), ms: Date.now() - t0, sent });
      }
    });
    socket.once('close', () => {
      clearInterval(timer);
      resolve({
        status: got === '' ? 'closed' : got.slice(0, got.indexOf('\r\n')),
        ms: Date.now() - t0,
        sent,
      });
    });
  });
}

describe('OTLP/HTTP minimum body rate', () => {
  it('408 for a body trickled at 10 bytes/s, at the grace plus a millisecond per byte, not at bodyTimeoutMs', async () => {
    const r = await paced(Buffer.alloc(1_000, 0x0a), 100, 1_000);
    expect(r.status).toBe('HTTP/1.1 408 Request Timeout');
    expect(r.ms).toBeGreaterThanOrEqual(490);
    expect(r.ms).toBeLessThan(5_000);
  });

  it('takes a body sent steadily above the rate for longer than the grace', async () => {
    expect(goodProto.length).toBeGreaterThan(4_000);
    ingest.records.length = 0;
    // 20 pieces 100 ms apart: ~2 s at ~goodProto.length / 2 bytes/s, well above 1,000.
    const r = await paced(goodProto, 20, 100);
    expect(r.status).toBe('HTTP/1.1 200 OK');
    expect(r.ms).toBeGreaterThan(1_500);
    expect(ingest.records).toHaveLength(20);
  });

  it('refuses a rate or grace that is not a positive integer', async () => {
    const { createOtlpHttpHandler } = await import('../src/otlp/http-handler.ts');
    expect(() => createOtlpHttpHandler({ ingest, minBodyBytesPerSecond: 0 })).toThrow(
      'createOtlpHttpHandler: minBodyBytesPerSecond must be a positive integer, got 0',
    );
    expect(() => createOtlpHttpHandler({ ingest, bodyRateGraceMs: 1.5 })).toThrow(
      'createOtlpHttpHandler: bodyRateGraceMs must be a positive integer, got 1.5',
    );
  });
});
