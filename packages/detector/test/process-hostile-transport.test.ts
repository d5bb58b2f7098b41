// `llmsec detector` as a process under hostile transports at once: bodies trickled a byte a
// second (slowloris), gzip bombs, a burst of concurrent exports, and it keeps answering
// /-/healthy throughout, takes the good exports, and is still up after.
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { llmsecLogRecords } from './otlp-support.ts';
import { startDetectorProcess, tempDir, writeConfig, type DetectorProcess } from './process-support.ts';

let detector: DetectorProcess;
const MAX_RSS = 400 * 1024 * 1024;

beforeAll(async () => {
  const cfg = writeConfig(tempDir(), 'c.json', {
    otlp: {
      http: '127.0.0.1:0',
      grpc: '127.0.0.1:0',
      max_body_bytes: 256 * 1024,
      max_decompressed_bytes: 1024 * 1024,
      body_timeout: '2s',
    },
  });
  detector = await startDetectorProcess(cfg);
});

afterAll(async () => {
  detector?.kill('SIGTERM');
  await detector?.exited;
});

/** The body length a trickle announces: at a byte a second, far more than the test's 60 s. */
const TRICKLE_BYTES = 1000;

/**
 * A POST whose body comes one byte a second; resolves, once the server closed the connection
 * (this side never does), with what it answered and how many body bytes had been sent by then.
 */
function trickle(): Promise<{ answer: string; sent: number }> {
  const url = new URL(detector.httpUrl);
  return new Promise((resolve) => {
    let answer = '';
    let sent = 0;
    const socket: Socket = connect(Number(url.port), url.hostname, () => {
      socket.write(
        `POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${TRICKLE_BYTES}\r\n\r\n`,
      );
    });
    const timer = setInterval(() => {
      if (!socket.destroyed) {
        socket.write(Buffer.from([0x0a]));
        sent++;
      }
    }, 1_000);
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer, sent });
    });
  });
}

const good = Buffer.from(ProtobufLogsSerializer.serializeRequest(llmsecLogRecords(20))!);
const post = (body: Buffer, headers: Record<string, string> = {}): Promise<number> =>
  fetch(`${detector.httpUrl}/v1/logs`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-protobuf', ...headers },
    body,
  }).then(
    (r) => r.status,
    () => -1,
  );

describe('llmsec detector under hostile transports (process)', () => {
  it(
    '408s trickled bodies, 413s gzip bombs, takes a concurrent burst and stays healthy',
    { timeout: 60_000 },
    async () => {
      const slow = Array.from({ length: 20 }, () => trickle());
      const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
      const bombs = Array.from({ length: 5 }, () => post(bomb, { 'Content-Encoding': 'gzip' }));
      const burst = Array.from({ length: 50 }, () => post(good));
      // Health answers while all of that is in flight.
      const health = await fetch(`${detector.httpUrl}/-/healthy`);
      expect(health.status).toBe(200);
      expect(await Promise.all(bombs)).toEqual(Array(5).fill(413));
      const statuses = await Promise.all(burst);
      // Each export taken, or refused whole for a retry (429): none failed another way.
      for (const s of statuses) expect([200, 429]).toContain(s);
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
      for (const s of await Promise.all(slow)) {
        // body_timeout 2 s: no slot held for ever. The server answered 408 and closed a body that
        // was never complete; not timed here (this process, stalled at load, once measured 7.2 s
        // against a 6 s bound): a slot held for ever never closes, and the test times out.
        expect(s.answer).toMatch(/^HTTP\/1\.1 408/);
        expect(s.sent).toBeLessThan(TRICKLE_BYTES);
      }
      expect((await fetch(`${detector.httpUrl}/-/healthy`)).status).toBe(200);
      expect(await post(good)).toBe(200);
      expect(detector.child.exitCode).toBeNull();
      // Peak resident memory of the process through all of it (Linux): a bomb inflates at most
      // max_decompressed_bytes, a trickle holds its few bytes. Measured: 155 MiB peak.
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${detector.child.pid}/status`, 'utf8'));
      expect(Number(hwm?.[1]) * 1024).toBeLessThan(MAX_RSS);
    },
  );
});
