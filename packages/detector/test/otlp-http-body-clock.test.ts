// The body deadlines run on a monotonic clock. 658f826 timed the body with Date.now(): the wall
// clock stepped back (an NTP step, a VM resumed) while a body trickled in re-armed the timer
// for the step's length, so neither the minimum rate nor bodyTimeoutMs ended the request.
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RecordingIngest, startHttp, type TestHttpServer } from './otlp-support.ts';

let server: TestHttpServer;
beforeAll(async () => {
  server = await startHttp({
    ingest: new RecordingIngest(),
    bodyTimeoutMs: 1_500,
    minBodyBytesPerSecond: 1_000,
    bodyRateGraceMs: 500,
  });
});
afterAll(async () => {
  await server?.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('OTLP/HTTP body deadlines and the wall clock', () => {
  it('408 at bodyTimeoutMs though the wall clock stepped an hour back meanwhile', async () => {
    const socket = connect(server.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(
      'POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n',
    );
    const status = new Promise<string>((resolve) => {
      let got = '';
      socket.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        if (got.includes('\r\n')) resolve(got.slice(0, got.indexOf('\r\n')));
      });
      socket.once('close', () => resolve(got === '' ? 'closed' : got));
      // A bound on the hang 658f826 had (the trickle kept the request open), not on speed: far
      // past bodyTimeoutMs however loaded the host, far below Node's own requestTimeout (300 s,
      // the only other 408), so a 408 here is the body deadline's. A 4 s wall-time bound on top
      // measured the host's load.
      setTimeout(() => resolve('no answer within 60 s'), 60_000).unref();
    });
    // One byte goes, then the wall clock steps back an hour; a byte a second follows.
    socket.write('\n');
    await new Promise((r) => setTimeout(r, 100));
    const now = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => now() - 3_600_000);
    const trickle = setInterval(() => socket.write('\n'), 1_000);
    try {
      expect(await status).toBe('HTTP/1.1 408 Request Timeout');
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
  });
});
