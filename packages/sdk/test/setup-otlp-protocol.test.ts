import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalHistograms } from '../src/local-histograms.ts';
import { createOtlpExporter } from '../src/otlp-exporters.ts';
import { configFromEnv } from '../src/setup-env.ts';
import { buildSignalExports } from '../src/setup-exporters.ts';
import { setupLlmsec, type LlmsecSetup } from '../src/setup.ts';

// The protocol choice of setupLlmsec's OTLP export: bad values, a gRPC exporter that is not
// installed, the option over the environment. Delivery over each protocol to real receivers
// is test/sdk-otlp-protocols.test.ts (the detector's); from an installed tarball without the
// gRPC packages, test/consumer.test.ts.

let receiver: Server;
let url: string;
const hits: string[] = [];
beforeAll(async () => {
  receiver = createServer((req, res) => {
    hits.push(`${req.url} ${req.headers['content-type']}`);
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  receiver.closeAllConnections();
  await new Promise((resolve) => receiver.close(resolve));
});

let current: LlmsecSetup | undefined;
afterEach(async () => {
  await current?.shutdown();
  current = undefined;
  hits.length = 0;
  vi.restoreAllMocks();
  delete process.env.OTEL_EXPORTER_OTLP_PROTOCOL;
  delete process.env.OTEL_EXPORTER_OTLP_LOGS_PROTOCOL;
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
});

const spanAndEvent = (setup: LlmsecSetup): void => {
  trace.getTracer('app').startActiveSpan('op', (span) => {
    setup.events.guardrailBlock({ layer: 'input', reason: 'x' });
    span.end();
  });
};

describe('setupLlmsec OTLP protocol', () => {
  it('an unknown protocol value warns once on the console and exports with the default, http/json', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/proto';
    current = setupLlmsec({ serviceName: 'p', otlp: { endpoint: url }, prometheus: false });
    spanAndEvent(current);
    await current.forceFlush();
    const mine = warn.mock.calls
      .map((c) => String(c[0]))
      .filter((m) => m.includes('OTEL_EXPORTER_OTLP_PROTOCOL'));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toContain('"http/proto"');
    expect(mine[0]).toContain('grpc, http/protobuf or http/json');
    expect(hits.sort()).toEqual(
      expect.arrayContaining([
        '/v1/logs application/json',
        '/v1/metrics application/json',
        '/v1/traces application/json',
      ]),
    );
  });

  it('says nothing about the protocol when no OTLP export is configured', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'nonsense';
    current = setupLlmsec({ serviceName: 'p', otlp: false, prometheus: false });
    expect(warn).not.toHaveBeenCalled();
  });

  it('the otlp.protocol option wins over the variables, and an invalid one throws at setup', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'grpc';
    process.env.OTEL_EXPORTER_OTLP_LOGS_PROTOCOL = 'bogus';
    current = setupLlmsec({
      serviceName: 'p',
      otlp: { endpoint: url, protocol: 'http/protobuf' },
      prometheus: false,
    });
    spanAndEvent(current);
    await current.forceFlush();
    expect(new Set(hits.map((h) => h.split(' ')[1]))).toEqual(new Set(['application/x-protobuf']));
    expect(warn).not.toHaveBeenCalled(); // the variables were not used
    expect(() =>
      setupLlmsec({
        serviceName: 'p',
        otlp: { endpoint: url, protocol: 'HTTP' as never },
        prometheus: false,
      }),
    ).toThrow(/otlp.protocol must be one of http\/json, http\/protobuf, grpc, got "HTTP"/);
  });

  it('a bare host:port otlp.endpoint is taken with protocol grpc only (a gRPC target, no URL over HTTP)', () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    current = setupLlmsec({
      serviceName: 'p',
      otlp: { endpoint: '127.0.0.1:4317', protocol: 'grpc' },
      prometheus: false,
      registerGlobal: false,
    });
    for (const protocol of [undefined, 'http/json', 'http/protobuf'] as const) {
      expect(() =>
        setupLlmsec({ serviceName: 'p', otlp: { endpoint: '127.0.0.1:4317', protocol }, prometheus: false }),
      ).toThrow(/otlp.endpoint is not a URL: "127.0.0.1:4317"/);
    }
    expect(() =>
      setupLlmsec({ serviceName: 'p', otlp: { endpoint: 'not a url', protocol: 'grpc' }, prometheus: false }),
    ).toThrow(/otlp.endpoint is not a URL/);
  });

  it('grpc without the gRPC exporters installed: no exporter for those signals, one console warning naming the packages, nothing thrown', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const notInstalled = (name: string): never => {
      throw Object.assign(new Error(`Cannot find module '${name}'\nRequire stack: ...`), {
        code: 'MODULE_NOT_FOUND',
      });
    };
    const env = configFromEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf',
    });
    const built = buildSignalExports(
      { serviceName: 'p', prometheus: false },
      env,
      new LocalHistograms(),
      notInstalled,
    );
    expect(built.spanProcessors).toEqual([]);
    expect(built.logProcessors).toEqual([]);
    expect(built.readers).toHaveLength(1); // metrics over http/protobuf are not affected
    expect(warn).toHaveBeenCalledTimes(1);
    const message = String(warn.mock.calls[0]![0]);
    expect(message).toContain(
      'traces (OTEL_EXPORTER_OTLP_PROTOCOL=grpc): @opentelemetry/exporter-trace-otlp-grpc',
    );
    expect(message).toContain(
      'logs (OTEL_EXPORTER_OTLP_PROTOCOL=grpc): @opentelemetry/exporter-logs-otlp-grpc',
    );
    expect(message).toContain(
      'npm install @opentelemetry/exporter-trace-otlp-grpc@0.301 @opentelemetry/exporter-logs-otlp-grpc@0.301',
    );
    expect(message).not.toContain('metrics-otlp-grpc');
    expect(message).not.toContain('Require stack'); // the first line of the error only
  });

  it('grpc with the exporters installed but a bad endpoint: one warning with the error, no install advice, nothing thrown', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    // The exporters read the endpoint from process.env themselves.
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = 'not a url';
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'grpc';
    const built = buildSignalExports(
      { serviceName: 'p', prometheus: false },
      configFromEnv(),
      new LocalHistograms(),
    );
    expect([built.spanProcessors, built.logProcessors, built.readers]).toEqual([[], [], []]);
    expect(warn).toHaveBeenCalledTimes(1);
    const message = String(warn.mock.calls[0]![0]);
    expect(message).toContain(
      'traces (OTEL_EXPORTER_OTLP_PROTOCOL=grpc): @opentelemetry/exporter-trace-otlp-grpc: Invalid URL',
    );
    expect(message).not.toContain('npm install');
  });

  it('loads a gRPC exporter only when grpc is asked for', () => {
    const loaded: string[] = [];
    const load = (name: string): never => {
      loaded.push(name);
      throw new Error('not here');
    };
    for (const protocol of ['http/json', 'http/protobuf'] as const) {
      for (const signal of ['traces', 'logs', 'metrics'] as const) {
        const built = createOtlpExporter(signal, protocol, { endpoint: url }, load);
        expect('exporter' in built).toBe(true);
      }
    }
    expect(loaded).toEqual([]);
    expect(createOtlpExporter('metrics', 'grpc', {}, load)).toEqual({
      unavailable: '@opentelemetry/exporter-metrics-otlp-grpc',
      error: 'not here',
      notInstalled: false,
    });
  });
});
