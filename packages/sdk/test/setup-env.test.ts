import { describe, expect, it } from 'vitest';
import { configFromEnv } from '../src/setup-env.ts';

describe('configFromEnv', () => {
  it('exports every signal over OTLP when a base endpoint is set', () => {
    const env = configFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' });
    expect([env.otlpTraces, env.otlpLogs, env.otlpMetrics]).toEqual([true, true, true]);
  });

  it('turns one signal off with OTEL_<SIGNAL>_EXPORTER=none', () => {
    const env = configFromEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_METRICS_EXPORTER: 'None',
    });
    expect([env.otlpTraces, env.otlpLogs, env.otlpMetrics]).toEqual([true, true, false]);
  });

  it('exports nothing without an endpoint', () => {
    const env = configFromEnv({});
    expect([env.otlpTraces, env.otlpLogs, env.otlpMetrics]).toEqual([false, false, false]);
  });

  it("reads each signal's OTLP protocol: its own variable over the general one, the default last", () => {
    const protocols = (env: NodeJS.ProcessEnv) => {
      const c = configFromEnv(env);
      return [c.otlpProtocols.traces, c.otlpProtocols.logs, c.otlpProtocols.metrics].map(
        (p) => `${p.protocol} <- ${p.source}`,
      );
    };
    expect(protocols({})).toEqual(['http/json <- default', 'http/json <- default', 'http/json <- default']);
    expect(
      protocols({
        OTEL_EXPORTER_OTLP_PROTOCOL: ' GRPC ',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: '',
      }),
    ).toEqual([
      'http/protobuf <- OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
      'grpc <- OTEL_EXPORTER_OTLP_PROTOCOL',
      'grpc <- OTEL_EXPORTER_OTLP_PROTOCOL', // empty counts as unset
    ]);
  });

  it('names each protocol value that is none of the three once, and falls through to the next setting', () => {
    const c = configFromEnv({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http',
      OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'grpc ',
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/proto',
    });
    expect(c.otlpProtocolsUnknown).toEqual([
      'OTEL_EXPORTER_OTLP_PROTOCOL="http"',
      'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="http/proto"',
    ]);
    expect([
      c.otlpProtocols.traces.protocol,
      c.otlpProtocols.logs.protocol,
      c.otlpProtocols.metrics.protocol,
    ]).toEqual(['http/json', 'grpc', 'http/json']);
    expect(
      configFromEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: 'x'.repeat(10_000) }).otlpProtocolsUnknown[0]!.length,
    ).toBeLessThan(120);
  });

  it('ignores malformed numbers instead of failing', () => {
    const env = configFromEnv({ OTEL_METRIC_EXPORT_INTERVAL: 'soon', OTEL_EXPORTER_PROMETHEUS_PORT: '-1' });
    expect(env.metricIntervalMs).toBeUndefined();
    expect(env.prometheusPort).toBeUndefined();
  });
});
