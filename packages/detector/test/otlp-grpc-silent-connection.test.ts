// A connection that sends nothing holds one of maxConnections' slots: grpc-js ages a
// connection out only once its HTTP/2 session runs, and once http2 has taken a socket,
// destroying the socket does not close it, so a silent TCP socket (no preface) was never closed
// (checked: still open at 8 s with age 1 s + grace 1 s), and maxConnections of them would shut
// every sender out for good. The receiver now hands grpc-js a socket only once it has sent
// something, and closes one silent for prefaceTimeoutMs (min(10 s, maxConnectionAgeMs)).
import { connect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpGrpcServer, type OtlpGrpcServer } from '../src/otlp/grpc-server.ts';
import { RecordingIngest } from './otlp-support.ts';
import { exportLogsGrpc } from './grpc-export.ts';

let server: OtlpGrpcServer;
const ingest = new RecordingIngest();

beforeAll(async () => {
  server = await startOtlpGrpcServer({
    port: 0,
    ingest,
    maxConnections: 1,
    maxConnectionAgeMs: 1_000,
    maxConnectionAgeGraceMs: 1_000,
  });
});
afterAll(async () => {
  await server?.close();
});

function exportLogs(): Promise<grpc.ServiceError | null> {
  return exportLogsGrpc(`127.0.0.1:${server.port}`);
}

describe('OTLP/gRPC: a connection that sends nothing', () => {
  it(
    'holds its slot only until its age and grace are past, then a sender is served',
    { timeout: 20_000 },
    async () => {
      const t0 = Date.now();
      const silent = connect(server.port, '127.0.0.1');
      silent.on('error', () => {});
      const closed = new Promise<number>((resolve) => silent.on('close', () => resolve(Date.now() - t0)));
      await new Promise((resolve) => silent.once('connect', resolve));
      await new Promise((r) => setTimeout(r, 100));
      // The one slot is held: another sender is refused (UNAVAILABLE, retryable).
      expect((await exportLogs())?.code).toBe(grpc.status.UNAVAILABLE);
      expect(server.refusedConnections).toBeGreaterThan(0);
      const outcome = await Promise.race([
        closed,
        new Promise<'open'>((r) => setTimeout(() => r('open'), 8_000)),
      ]);
      silent.destroy();
      // Closed at prefaceTimeoutMs (min(10 s, age) = 1 s); before: still open at 8 s.
      expect(outcome).not.toBe('open');
      expect(outcome as number).toBeLessThan(3_000);
      expect(await exportLogs()).toBeNull();
      expect(ingest.records).toHaveLength(2);
    },
  );
});
