// otlp.body_timeout may be set past 30 s (README: at most 24d), yet Node's own requestTimeout
// on the HTTP server (30 s from the request's first byte to its body's last) came first: a body
// still arriving at 30 s had its connection destroyed with no answer (counted as a silent
// connection, connections_refused{headers_timeout}) instead of the 408 body_timeout promises
// (requests_refused{body_timeout}). requestTimeout now leaves room for headersTimeout +
// body_timeout. The stalled body's 100 bytes at min_body_rate 1 byte/s give it 10 s + 100 s by
// the rate rule (service-body-rate.test.ts), so body_timeout is what ends it.
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningDetector } from '../src/service/detector.ts';
import { startDetectorWith } from './service-support.ts';

let detector: RunningDetector | undefined;
afterEach(async () => {
  await detector?.shutdown();
  detector = undefined;
});

/** Sends a head declaring 1,000 body bytes and 100 of them; resolves with the status line or 'closed'. */
function stalledPost(port: number): { socket: Socket; status: Promise<string> } {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let got = '';
  const status = new Promise<string>((resolve) => {
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n');
      if (end !== -1) resolve(got.slice(0, end));
    });
    socket.once('close', () => resolve(got === '' ? 'closed' : got.split('\r\n')[0]!));
  });
  socket.write(
    'POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n',
  );
  socket.write(Buffer.alloc(100, 0x0a));
  return { socket, status };
}

/** The value of the series `name` whose labels include every one given (any order), or undefined. */
function value(page: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of page.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('HTTP receiver with body_timeout past 30 s', () => {
  it(
    'answers a stalled body 408 at body_timeout, not a closed connection at 30 s',
    { timeout: 60_000 },
    async () => {
      ({ detector } = await startDetectorWith('long-body-timeout', () => ({
        otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0', body_timeout: '33s', min_body_rate: 1 },
      })));
      const t0 = Date.now();
      const post = stalledPost(detector.http.port);
      const status = await post.status;
      const after = Date.now() - t0;
      post.socket.destroy();
      expect(status).toBe('HTTP/1.1 408 Request Timeout');
      expect(after).toBeGreaterThanOrEqual(32_500);
      const page = await (await fetch(`http://127.0.0.1:${detector.http.port}/metrics`)).text();
      expect(
        value(page, 'llmsec_detector_requests_refused_total', { signal: 'logs', reason: 'body_timeout' }),
      ).toBe(1);
      expect(
        value(page, 'llmsec_detector_connections_refused_total', {
          transport: 'http',
          reason: 'headers_timeout',
        }),
      ).toBe(0);
    },
  );
});
