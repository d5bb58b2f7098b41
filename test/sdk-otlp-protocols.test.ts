import { Buffer } from 'node:buffer';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { trace } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createOtlpHttpHandler,
  loadConfig,
  startDetector,
  startOtlpGrpcServer,
  type IngestResult,
  type OtlpGrpcServer,
  type OtlpIngest,
} from '@llmsec/detector';
import { setupLlmsec, withSecurityContext, type LlmsecSetup } from '@llmsec/sdk';
import { waitUntil } from './support/ports.ts';

/**
 * setupLlmsec exports over the protocol the operator chose (http/json, http/protobuf, grpc; by
 * option or by the standard OTEL_EXPORTER_OTLP_[<SIGNAL>_]PROTOCOL variables), checked at the
 * llmsec detector's own OTLP receivers: its HTTP handler (JSON and protobuf) and its gRPC
 * server decode what the real OTel exporters sent, and the test looks for the app's security
 * event (log record) and its span. The detector receives no metrics: metrics go to a recorder
 * on the same HTTP server, and over gRPC to a grpc-js MetricsService that keeps the bytes.
 * Last, the running detector service (startDetector) takes the app's blocks over each protocol
 * and fires its rapid_guardrail_blocks rule.
 */

type Decoded = Parameters<OtlpIngest['logs']>[0][number];
type DecodedSpan = Parameters<OtlpIngest['traces']>[0][number];

class Recording implements OtlpIngest {
  readonly records: Decoded[] = [];
  readonly spans: DecodedSpan[] = [];
  logs(records: Decoded[]): IngestResult {
    this.records.push(...records);
    return { kind: 'accepted', rejected: 0 };
  }
  traces(spans: DecodedSpan[]): IngestResult {
    this.spans.push(...spans);
    return { kind: 'accepted', rejected: 0 };
  }
}

interface HttpHit {
  path: string;
  contentType: string;
}

const TOKEN = 'protocol-test-token';
let ingest: Recording;
let http: Server;
let httpUrl: string;
const httpHits: HttpHit[] = [];
let detectorGrpc: OtlpGrpcServer;
let metricsGrpc: grpc.Server;
let metricsGrpcPort: number;
const grpcMetricBodies: Buffer[] = [];

beforeAll(async () => {
  ingest = new Recording();
  const handler = createOtlpHttpHandler({ ingest });
  http = createServer((req, res) => {
    httpHits.push({ path: req.url ?? '', contentType: String(req.headers['content-type']) });
    if (handler(req, res)) return;
    // Not the detector's: /v1/metrics. Read the body, answer an empty ExportMetricsServiceResponse.
    req.resume();
    req.on('end', () => {
      const json = String(req.headers['content-type']).includes('json');
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(json ? '{}' : '');
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  httpUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  detectorGrpc = await startOtlpGrpcServer({ host: '127.0.0.1', port: 0, ingest, authToken: TOKEN });

  metricsGrpc = new grpc.Server();
  metricsGrpc.addService(
    {
      Export: {
        path: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
        requestStream: false,
        responseStream: false,
        requestSerialize: (v: Buffer) => v,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (v: Buffer) => v,
        responseDeserialize: (b: Buffer) => b,
      },
    },
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        grpcMetricBodies.push(call.request);
        callback(null, Buffer.alloc(0));
      },
    },
  );
  metricsGrpcPort = await new Promise<number>((resolve, reject) =>
    metricsGrpc.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );
});

afterAll(async () => {
  await detectorGrpc?.close();
  await new Promise<void>((resolve) => metricsGrpc?.tryShutdown(() => resolve()));
  http?.closeAllConnections();
  await new Promise((resolve) => http?.close(resolve));
});

const ENV = [
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT',
  'OTEL_EXPORTER_OTLP_INSECURE',
];
let llmsec: LlmsecSetup | undefined;
beforeEach(() => {
  ingest.records.length = 0;
  ingest.spans.length = 0;
  httpHits.length = 0;
  grpcMetricBodies.length = 0;
});
afterEach(async () => {
  await llmsec?.shutdown();
  llmsec = undefined;
  for (const name of ENV) delete process.env[name];
});

/** An app's span with a guardrail_block recorded in it; returns the span's ids. */
function appRequest(events: LlmsecSetup['events']): { traceId: string; spanId: string } {
  return withSecurityContext({ userId: 'proto-user', sessionId: 'proto-session' }, () =>
    trace.getTracer('app').startActiveSpan('chat gpt-4o', (span) => {
      events.guardrailBlock({ layer: 'injection', reason: 'ignore previous instructions' });
      span.end();
      return span.spanContext();
    }),
  );
}

/** The detector decoded the app's security event (log record) and its span with the event on it. */
async function detectorGot(ids: { traceId: string; spanId: string }): Promise<void> {
  await waitUntil(
    () =>
      ingest.records.some((r) => r.eventName === 'llmsec.guardrail_block') &&
      ingest.spans.some((s) => s.spanId === ids.spanId),
    { what: 'the guardrail_block record and its span at the detector' },
  );
  const record = ingest.records.find((r) => r.eventName === 'llmsec.guardrail_block')!;
  expect(record.traceId).toBe(ids.traceId);
  expect(record.spanId).toBe(ids.spanId);
  expect(record.attributes['user.id']).toBe('proto-user');
  expect(record.resource['service.name']).toBe('protocol-app');
  const span = ingest.spans.find((s) => s.spanId === ids.spanId)!;
  expect(span.name).toBe('chat gpt-4o');
  expect(span.events.map((e) => e.name)).toContain('llmsec.guardrail_block');
}

const contentTypes = (path: string): string[] => [
  ...new Set(httpHits.filter((h) => h.path === path).map((h) => h.contentType)),
];

describe('setupLlmsec OTLP protocols, at the detector receivers', () => {
  it.each([
    ['http/json', 'application/json'],
    ['http/protobuf', 'application/x-protobuf'],
  ] as const)('otlp.protocol %s: every signal over HTTP in that encoding', async (protocol, contentType) => {
    llmsec = setupLlmsec({
      serviceName: 'protocol-app',
      otlp: { endpoint: `${httpUrl}/`, protocol },
      prometheus: false,
    });
    const ids = appRequest(llmsec.events);
    await llmsec.forceFlush();
    await detectorGot(ids);
    await waitUntil(() => httpHits.some((h) => h.path === '/v1/metrics'), { what: 'metrics over HTTP' });
    for (const path of ['/v1/traces', '/v1/logs', '/v1/metrics'])
      expect(contentTypes(path)).toEqual([contentType]);
  });

  it('OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf with the base endpoint variable', async () => {
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/protobuf';
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = httpUrl;
    llmsec = setupLlmsec({ serviceName: 'protocol-app', prometheus: false });
    const ids = appRequest(llmsec.events);
    await llmsec.shutdown(); // shutdown flushes: nothing is lost on the way out
    await detectorGot(ids);
    for (const path of ['/v1/traces', '/v1/logs', '/v1/metrics'])
      expect(contentTypes(path)).toEqual(['application/x-protobuf']);
  });

  it('OTEL_EXPORTER_OTLP_PROTOCOL=grpc: host:port endpoint, headers as metadata, the per-signal endpoint as is', async () => {
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'grpc';
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${detectorGrpc.port}`;
    process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT = `http://127.0.0.1:${metricsGrpcPort}`;
    // The detector's gRPC receiver refuses calls without it (UNAUTHENTICATED).
    process.env.OTEL_EXPORTER_OTLP_HEADERS = `authorization=Bearer ${TOKEN}`;
    llmsec = setupLlmsec({ serviceName: 'protocol-app', prometheus: false });
    const ids = appRequest(llmsec.events);
    await llmsec.forceFlush();
    await detectorGot(ids);
    await waitUntil(() => grpcMetricBodies.length > 0, { what: 'metrics over gRPC' });
    expect(grpcMetricBodies.some((b) => b.includes('llmsec.events'))).toBe(true);
    expect(httpHits).toEqual([]); // nothing went over HTTP
  });

  it('otlp.protocol grpc with endpoint and headers from the options', async () => {
    llmsec = setupLlmsec({
      serviceName: 'protocol-app',
      otlp: {
        endpoint: `http://127.0.0.1:${detectorGrpc.port}`,
        headers: { authorization: `Bearer ${TOKEN}` },
        protocol: 'grpc',
      },
      prometheus: false,
    });
    const ids = appRequest(llmsec.events);
    await llmsec.forceFlush();
    await detectorGot(ids);
    expect(httpHits).toEqual([]);
  });

  it('a signal-specific protocol and endpoint override the general ones (traces http/json, logs grpc)', async () => {
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'grpc';
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${detectorGrpc.port}`;
    process.env.OTEL_EXPORTER_OTLP_HEADERS = `authorization=Bearer ${TOKEN}`;
    process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT = `http://127.0.0.1:${metricsGrpcPort}`;
    process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = 'http/json';
    // Used as is: no /v1/traces appended to a per-signal URL.
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = `${httpUrl}/v1/traces`;
    llmsec = setupLlmsec({ serviceName: 'protocol-app', prometheus: false });
    const ids = appRequest(llmsec.events);
    await llmsec.forceFlush();
    await detectorGot(ids);
    expect(httpHits.map((h) => `${h.path} ${h.contentType}`)).toEqual(
      httpHits.map(() => '/v1/traces application/json'),
    );
    expect(httpHits.length).toBeGreaterThan(0);
  });
});

describe('setupLlmsec OTLP endpoints per protocol (spec protocol/exporter.md)', () => {
  const paths = (): string[] => [...new Set(httpHits.map((h) => h.path))].sort();

  it.each([
    ['with a trailing slash', '/', ['/v1/logs', '/v1/metrics', '/v1/traces']],
    ['with a path', '/otlp/', ['/otlp/v1/logs', '/otlp/v1/metrics', '/otlp/v1/traces']],
  ])(
    'http/protobuf: OTEL_EXPORTER_OTLP_ENDPOINT %s gets /v1/<signal> appended once',
    async (_, suffix, expected) => {
      process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/protobuf';
      process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `${httpUrl}${suffix}`;
      llmsec = setupLlmsec({ serviceName: 'protocol-app', prometheus: false });
      appRequest(llmsec.events);
      await llmsec.shutdown();
      expect(paths()).toEqual(expected);
    },
  );

  it('http/json: a per-signal endpoint with a path is used as is, the general one gets /v1/<signal> for the others', async () => {
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `${httpUrl}/base`;
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = `${httpUrl}/custom/spans`;
    process.env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT = `${httpUrl}/custom/logs/`;
    llmsec = setupLlmsec({ serviceName: 'protocol-app', prometheus: false });
    appRequest(llmsec.events);
    await llmsec.shutdown();
    expect(paths()).toEqual(['/base/v1/metrics', '/custom/logs/', '/custom/spans']);
  });

  it('grpc: OTEL_EXPORTER_OTLP_ENDPOINT is the target as is (no /v1/<signal>; a path is ignored)', async () => {
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'grpc';
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${detectorGrpc.port}/v1/traces`;
    process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT = `http://127.0.0.1:${metricsGrpcPort}`;
    process.env.OTEL_EXPORTER_OTLP_HEADERS = `authorization=Bearer ${TOKEN}`;
    llmsec = setupLlmsec({ serviceName: 'protocol-app', prometheus: false });
    const ids = appRequest(llmsec.events);
    await llmsec.forceFlush();
    await detectorGot(ids);
    expect(httpHits).toEqual([]);
  });

  it('grpc: a bare host:port (the gRPC client’s own form) in OTEL_EXPORTER_OTLP_ENDPOINT and in otlp.endpoint, plaintext by OTEL_EXPORTER_OTLP_INSECURE', async () => {
    process.env.OTEL_EXPORTER_OTLP_INSECURE = 'true';
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'grpc';
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `127.0.0.1:${detectorGrpc.port}`;
    process.env.OTEL_EXPORTER_OTLP_HEADERS = `authorization=Bearer ${TOKEN}`;
    llmsec = setupLlmsec({
      serviceName: 'protocol-app',
      prometheus: false,
      otlp: { metricIntervalMs: 3_600_000 },
    });
    let ids = appRequest(llmsec.events);
    await llmsec.forceFlush();
    await detectorGot(ids);
    await llmsec.shutdown();
    ingest.records.length = 0;
    ingest.spans.length = 0;
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    delete process.env.OTEL_EXPORTER_OTLP_PROTOCOL;
    // Was refused at setup (not a URL), though the spec has the gRPC endpoint take any form the
    // gRPC client takes, and `localhost:4317` (a URL of scheme `localhost:`) was let through.
    llmsec = setupLlmsec({
      serviceName: 'protocol-app',
      prometheus: false,
      otlp: { endpoint: `127.0.0.1:${detectorGrpc.port}`, protocol: 'grpc', metricIntervalMs: 3_600_000 },
    });
    ids = appRequest(llmsec.events);
    await llmsec.forceFlush();
    await detectorGot(ids);
    expect(httpHits).toEqual([]);
  });
});

describe('setupLlmsec OTLP protocols, into the running detector service', () => {
  it.each(['http/json', 'http/protobuf', 'grpc'] as const)(
    '%s: the app’s guardrail blocks reach the detector and fire rapid_guardrail_blocks',
    async (protocol) => {
      const dir = mkdtempSync(join(tmpdir(), 'llmsec-sdk-protocol-'));
      const alerts = join(dir, 'alerts.jsonl');
      const configFile = join(dir, 'config.json');
      writeFileSync(
        configFile,
        JSON.stringify({
          otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
          sinks: { alerts },
          log_level: 'error',
        }),
      );
      const detector = await startDetector({ config: loadConfig(configFile) });
      try {
        const target = protocol === 'grpc' ? detector.grpc : detector.http;
        llmsec = setupLlmsec({
          serviceName: 'protocol-app',
          otlp: { endpoint: `http://127.0.0.1:${target.port}`, protocol },
          prometheus: false,
        });
        for (let i = 0; i < 12; i++) appRequest(llmsec.events);
        // Flushes, then resolves once every export was answered: the detector accepted them, and its
        // shutdown below drains what it accepted through the engine to the alert file.
        await llmsec.shutdown();
        llmsec = undefined;
      } finally {
        await detector.shutdown();
      }
      const fired = readAlerts(alerts);
      expect(fired).toContainEqual(
        expect.objectContaining({ rule: 'rapid_guardrail_blocks', status: 'firing' }),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  );
});

function readAlerts(file: string): Array<{ rule: string; status: string }> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { rule: string; status: string });
}
