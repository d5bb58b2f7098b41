// startOtlpGrpcServer counts the connections it closes for sending nothing within
// prefaceTimeoutMs (min(10 s, maxConnectionAgeMs)): silentConnectionsClosed and
// onSilentConnectionClosed, what llmsec_detector_connections_refused_total{reason="silent"}
// counts. A peer that resets before that is not silent (it left, nothing was shed), a sender
// that speaks is served, and a throwing callback does not stop the server.
import { connect, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpGrpcServer, type OtlpGrpcServer } from '../src/otlp/grpc-server.ts';
import { RecordingIngest } from './otlp-support.ts';
import { exportLogsGrpc } from './grpc-export.ts';

const AGE_MS = 500; // prefaceTimeoutMs = min(10 s, age)
let server: OtlpGrpcServer;
let calls = 0;

beforeAll(async () => {
  server = await startOtlpGrpcServer({
    port: 0,
    ingest: new RecordingIngest(),
    maxConnectionAgeMs: AGE_MS,
    maxConnectionAgeGraceMs: 1_000,
    onSilentConnectionClosed: () => {
      calls++;
      throw new Error('a careless callback');
    },
  });
});
afterAll(async () => {
  await server?.close();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function open(): Promise<Socket> {
  const s = connect(server.port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise((r) => s.once('connect', r));
  return s;
}

function exportLogs(): Promise<grpc.ServiceError | null> {
  return exportLogsGrpc(`127.0.0.1:${server.port}`);
}

describe('OTLP/gRPC: silent connections counted', () => {
  it(
    'counts one closed for silence, not a peer that left first nor a sender served',
    { timeout: 10_000 },
    async () => {
      const silent = await open();
      const left = await open();
      left.resetAndDestroy(); // reset before prefaceTimeoutMs: nothing to shed
      await new Promise((r) => silent.once('close', r));
      await sleep(AGE_MS); // past the departed peer's timeout too
      expect(server.silentConnectionsClosed).toBe(1);
      expect(calls).toBe(1);
      // The callback threw; the server serves on and a speaking sender is not counted.
      expect(await exportLogs()).toBeNull();
      await sleep(AGE_MS * 2);
      expect(server.silentConnectionsClosed).toBe(1);
      const again = await open();
      await new Promise((r) => again.once('close', r));
      expect(server.silentConnectionsClosed).toBe(2);
      expect(calls).toBe(2);
    },
  );
});
