/**
 * OTLP over gRPC with TLS, as the spec's endpoint rules have it (protocol/exporter.md): an
 * `https://` target is TLS; a target without a scheme is TLS unless the insecure setting is true
 * (OTEL_EXPORTER_OTLP_INSECURE), so a bare host:port never goes plaintext by itself; the CA
 * comes from OTEL_EXPORTER_OTLP_CERTIFICATE. A grpc-js server with a self-signed certificate for
 * localhost and 127.0.0.1 (test/fixtures/tls, valid to 2126) records the Export calls it
 * decrypted; a plaintext server beside it shows that a bare target does not reach it.
 */
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { setupLlmsec, type LlmsecSetup } from '@llmsec/sdk';
import { waitUntil } from './support/ports.ts';

const CERT = fileURLToPath(new URL('fixtures/tls/localhost.crt', import.meta.url));
const KEY = fileURLToPath(new URL('fixtures/tls/localhost.key', import.meta.url));
const SERVICES = ['trace.v1.TraceService', 'logs.v1.LogsService', 'metrics.v1.MetricsService'];

/** An OTLP gRPC receiver that keeps the path of each Export it answered. */
async function receiver(
  credentials: grpc.ServerCredentials,
): Promise<{ server: grpc.Server; port: number; paths: string[] }> {
  const paths: string[] = [];
  const server = new grpc.Server();
  for (const service of SERVICES) {
    const path = `/opentelemetry.proto.collector.${service}/Export`;
    server.addService(
      {
        Export: {
          path,
          requestStream: false,
          responseStream: false,
          requestSerialize: (v: Buffer) => v,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (v: Buffer) => v,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      {
        Export: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          paths.push(path);
          callback(null, Buffer.alloc(0));
        },
      },
    );
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port, paths };
}

let tls: Awaited<ReturnType<typeof receiver>>;
let plain: Awaited<ReturnType<typeof receiver>>;
beforeAll(async () => {
  tls = await receiver(
    grpc.ServerCredentials.createSsl(null, [
      { cert_chain: readFileSync(CERT), private_key: readFileSync(KEY) },
    ]),
  );
  plain = await receiver(grpc.ServerCredentials.createInsecure());
});
afterAll(async () => {
  for (const r of [tls, plain]) await new Promise<void>((resolve) => r?.server.tryShutdown(() => resolve()));
});

const ENV = [
  'OTEL_EXPORTER_OTLP_CERTIFICATE',
  'OTEL_EXPORTER_OTLP_INSECURE',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
];
let llmsec: LlmsecSetup | undefined;
beforeEach(() => {
  tls.paths.length = 0;
  plain.paths.length = 0;
  process.env.OTEL_EXPORTER_OTLP_CERTIFICATE = CERT;
});
afterEach(async () => {
  await llmsec?.shutdown();
  llmsec = undefined;
  for (const name of ENV) delete process.env[name];
  vi.restoreAllMocks();
});

async function exportAll(setup: LlmsecSetup): Promise<void> {
  setup.events.guardrailBlock({ userId: 'tls-user', layer: 'input', reason: 'test' });
  await setup.forceFlush();
}

describe('setupLlmsec OTLP over gRPC with TLS', () => {
  it.each([
    ['otlp.endpoint https://localhost:<port>', (port: number) => `https://localhost:${port}`],
    ['otlp.endpoint as a bare localhost:<port>', (port: number) => `localhost:${port}`],
    ['otlp.endpoint as a bare 127.0.0.1:<port>', (port: number) => `127.0.0.1:${port}`],
  ])('%s: TLS, verified against OTEL_EXPORTER_OTLP_CERTIFICATE', async (_, endpoint) => {
    llmsec = setupLlmsec({
      serviceName: 'grpc-tls',
      prometheus: false,
      registerGlobal: false,
      otlp: { endpoint: endpoint(tls.port), protocol: 'grpc' },
    });
    await exportAll(llmsec);
    await waitUntil(() => tls.paths.length >= 3, { what: 'three Exports over TLS' });
    expect(new Set(tls.paths).size).toBe(3);
  });

  it('OTEL_EXPORTER_OTLP_ENDPOINT=https://127.0.0.1:<port> with OTEL_EXPORTER_OTLP_PROTOCOL=grpc: TLS', async () => {
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'grpc';
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `https://127.0.0.1:${tls.port}`;
    llmsec = setupLlmsec({ serviceName: 'grpc-tls', prometheus: false, registerGlobal: false });
    await exportAll(llmsec);
    await waitUntil(() => tls.paths.length >= 3, { what: 'three Exports over TLS' });
  });

  it('a bare target is not sent in plaintext unless OTEL_EXPORTER_OTLP_INSECURE=true', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    llmsec = setupLlmsec({
      serviceName: 'grpc-tls',
      prometheus: false,
      registerGlobal: false,
      otlp: { endpoint: `127.0.0.1:${plain.port}`, protocol: 'grpc' },
    });
    // Resolves once each export has failed (the TLS handshake with a plaintext server).
    await exportAll(llmsec);
    await llmsec.shutdown();
    llmsec = undefined;
    expect(plain.paths).toEqual([]);

    process.env.OTEL_EXPORTER_OTLP_INSECURE = 'true';
    llmsec = setupLlmsec({
      serviceName: 'grpc-tls',
      prometheus: false,
      registerGlobal: false,
      otlp: { endpoint: `127.0.0.1:${plain.port}`, protocol: 'grpc' },
    });
    await exportAll(llmsec);
    await waitUntil(() => plain.paths.length >= 3, { what: 'three plaintext Exports' });
  });
});
