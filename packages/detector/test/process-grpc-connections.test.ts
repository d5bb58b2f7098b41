// What unfinished OTLP/gRPC messages can hold in a running `llmsec detector`, across
// connections. grpc-js buffers a whole message before the handler sees it, so each stream
// sending all but the last byte of a max-size message holds that much until the connection ages
// out; before, every connection was accepted and nothing capped the total (measured by hand:
// ~400 MiB resident per connection of 100 streams × 4 MiB). Now the detector accepts at most
// max_grpc_connections, so the total is max_grpc_connections × max_concurrent_streams ×
// max_body_bytes (here 2 × 4 × 1 MiB = 8 MiB), a connection past it is closed on arrival
// (UNAVAILABLE: a Collector retries it), and once the holders go a normal export is taken.
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { connect, type ClientHttp2Session } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDetectorProcess, tempDir, writeConfig, type DetectorProcess } from './process-support.ts';
import { exportLogsGrpc, LOGS_PATH } from './grpc-export.ts';

const MiB = 1024 * 1024;
const CONNECTIONS = 16;
const STREAMS = 4;
let detector: DetectorProcess;

beforeAll(async () => {
  const cfg = writeConfig(tempDir(), 'c.json', {
    otlp: {
      http: '127.0.0.1:0',
      grpc: '127.0.0.1:0',
      max_body_bytes: MiB,
      max_concurrent_streams: STREAMS,
      max_grpc_connections: 2,
    },
  });
  detector = await startDetectorProcess(cfg);
});

afterAll(async () => {
  detector?.kill('SIGTERM');
  await detector?.exited;
});

const rss = (): number =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${detector.child.pid}/status`, 'utf8'))?.[1]) * 1024;

/** One connection opening STREAMS calls, each sending all but the last byte of a 1 MiB message. */
function holder(): { session: ClientHttp2Session; sent: Promise<void> } {
  const session = connect(detector.grpcUrl);
  session.on('error', () => {});
  const calls: Promise<void>[] = [];
  for (let i = 0; i < STREAMS; i++) {
    const stream = session.request({
      ':method': 'POST',
      ':path': LOGS_PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stream.on('error', () => {});
    const header = Buffer.from([0, 0, 0, 0, 0]);
    header.writeUInt32BE(MiB, 1); // announces a 1 MiB message; MiB - 1 bytes of it come
    calls.push(
      new Promise<void>((resolve) => {
        stream.once('close', () => resolve());
        stream.write(Buffer.concat([header, Buffer.alloc(MiB - 1, 0x61)]), () => resolve());
      }),
    );
  }
  return { session, sent: Promise.all(calls).then(() => {}) };
}

function exportLogs(): Promise<grpc.ServiceError | null> {
  return exportLogsGrpc(detector.grpcUrl.slice('http://'.length), { records: 3, deadlineMs: 5_000 });
}

describe('OTLP/gRPC connections held with unfinished messages', () => {
  it(
    'hold at most max_grpc_connections × max_concurrent_streams × max_body_bytes; more are refused, then exports go on',
    { timeout: 60_000 },
    async () => {
      expect(await exportLogs()).toBeNull(); // warm: the first export's own allocations
      const before = rss();
      const holders = [];
      for (let i = 0; i < CONNECTIONS; i++) {
        holders.push(holder());
        // Sequential connects, so the accepted ones are the first two (a test detail).
        await new Promise((r) => setTimeout(r, 50));
      }
      await Promise.race([
        Promise.all(holders.map((h) => h.sent)),
        new Promise((r) => setTimeout(r, 15_000)),
      ]);
      await new Promise((r) => setTimeout(r, 1_000)); // let the detector read what was sent
      const grown = rss() - before;
      // Cap 2 × 4 × 1 MiB = 8 MiB buffered (twice that as chunks are joined), plus slack for
      // two sessions and the garbage collector's timing. Measured: 15 MiB; before, 16 connections ×
      // 4 MiB: ~64 MiB (12 connections: 48 MiB).
      expect(grown, `grew ${(grown / MiB).toFixed(1)} MiB`).toBeLessThan(32 * MiB);
      // While the slots are held, a further sender is refused with UNAVAILABLE, which the
      // Collector's and the OTel SDKs' exporters retry (not a permanent failure).
      const refused = await exportLogs();
      expect(refused?.code).toBe(grpc.status.UNAVAILABLE);
      // Said once in the log (at most once a minute), with the count, not per connection.
      const warned = detector
        .stderr()
        .split('\n')
        .filter((l) => l.includes('OTLP/gRPC connections refused'));
      expect(warned).toHaveLength(1);
      expect(JSON.parse(warned[0]!)).toMatchObject({ level: 'warn', refused: 1 });
      for (const h of holders) h.session.destroy();
      // The held slots free as their connections close: a normal export is taken again.
      let err: grpc.ServiceError | null = null;
      for (let i = 0; i < 20; i++) {
        err = await exportLogs();
        if (err === null) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(err).toBeNull();
      expect(detector.child.exitCode).toBeNull();
    },
  );
});
