// A body trickled a byte a second through a raw socket (slowloris on the body): with a long
// otlp.body_timeout (60 s here) it held its request, connection and buffer for all of it, and
// was answered 408 only at 60 s. The minimum body rate (otlp.min_body_rate, 1 KiB/s by default,
// after a 10 s grace) ends it at about 10 s, counted as a body_timeout refusal like any 408.
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningDetector } from '../src/service/detector.ts';
import { startDetectorWith } from './service-support.ts';

let detector: RunningDetector | undefined;
afterEach(async () => {
  await detector?.shutdown();
  detector = undefined;
});

/** Declares 1,000 body bytes and sends one a second; resolves with the answer or 'closed'. */
function tricklePost(port: number): { socket: Socket; answer: Promise<string>; sent: () => number } {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let got = '';
  let sent = 0;
  const answer = new Promise<string>((resolve) => {
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.once('close', () => resolve(got === '' ? 'closed' : got));
  });
  socket.write(
    'POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n',
  );
  const timer = setInterval(() => {
    if (socket.destroyed) return clearInterval(timer);
    socket.write(' ');
    sent++;
  }, 1_000);
  socket.once('close', () => clearInterval(timer));
  return { socket, answer, sent: () => sent };
}

function value(page: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of page.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('HTTP receiver minimum body rate', () => {
  it(
    'answers a body trickled at 1 byte/s 408 after the 10 s grace, not at body_timeout (60 s)',
    { timeout: 40_000 },
    async () => {
      ({ detector } = await startDetectorWith('body-rate', () => ({
        otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0', body_timeout: '60s' },
      })));
      const t0 = Date.now();
      const post = tricklePost(detector.http.port);
      const answer = await post.answer;
      const after = Date.now() - t0;
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
      expect(answer).toMatch(/body arrived slower than 1024 bytes\/s \(\d+ bytes in \d+ ms\)/);
      expect(answer.toLowerCase()).toContain('connection: close');
      // 10 s grace + 1 ms per byte received: the trickle's ~10 bytes add ~10 ms.
      expect(after).toBeGreaterThanOrEqual(9_900);
      expect(after).toBeLessThan(20_000);
      expect(post.sent()).toBeLessThan(20);
      const page = await (await fetch(`http://127.0.0.1:${detector.http.port}/metrics`)).text();
      expect(
        value(page, 'llmsec_detector_requests_refused_total', { signal: 'logs', reason: 'body_timeout' }),
      ).toBe(1);
    },
  );
});
