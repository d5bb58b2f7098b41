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

  it('names the OTLP protocol variables it cannot honour (it exports http/json only)', () => {
    // A Collector user's usual OTEL_EXPORTER_OTLP_PROTOCOL=grpc with :4317 would otherwise
    // send JSON over HTTP to a gRPC port and lose every export without a word.
    expect(configFromEnv({}).otlpProtocolsIgnored).toEqual([]);
    expect(
      configFromEnv({
        OTEL_EXPORTER_OTLP_PROTOCOL: ' HTTP/JSON ',
        OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/json',
      }).otlpProtocolsIgnored,
    ).toEqual([]);
    expect(
      configFromEnv({
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: '',
      }).otlpProtocolsIgnored,
    ).toEqual(['OTEL_EXPORTER_OTLP_PROTOCOL=grpc', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf']);
  });

  it('ignores malformed numbers instead of failing', () => {
    const env = configFromEnv({ OTEL_METRIC_EXPORT_INTERVAL: 'soon', OTEL_EXPORTER_PROMETHEUS_PORT: '-1' });
    expect(env.metricIntervalMs).toBeUndefined();
    expect(env.prometheusPort).toBeUndefined();
  });
});
