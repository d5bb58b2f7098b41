import { createRequire } from 'node:module';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { OtlpProtocol, OtlpSignal } from './otlp-protocol.ts';

/**
 * One signal's OTLP exporter for a protocol: the upstream OpenTelemetry JS exporters of the
 * 0.301 line, `-otlp-http` (JSON), `-otlp-proto` (protobuf over HTTP) and `-otlp-grpc`.
 *
 * The gRPC exporters are optional peer dependencies: they bring @grpc/grpc-js (and its
 * proto-loader and protobufjs), which an app exporting over HTTP should not have to install.
 * They are loaded only when a signal is set to `grpc`, synchronously (createRequire; Node 22
 * requires ESM too), not with import(): setupLlmsec is synchronous, a metric reader asks its
 * exporter for the aggregation temporality when it is built, and a missing package is then
 * known before setup returns, so the signal gets no exporter and the warning is given at
 * startup rather than as a stream of failed exports.
 *
 * Each exporter reads the standard variables of its own protocol (OTEL_EXPORTER_OTLP_*_ENDPOINT
 * with `/v1/<signal>` appended to the general one for HTTP, host:port for gRPC; _HEADERS,
 * _TIMEOUT, _COMPRESSION; _INSECURE and _CERTIFICATE for gRPC) unless `target` gives a URL.
 */
export interface OtlpTarget {
  /** From `otlp.endpoint`: the base URL. HTTP gets `/v1/<signal>` appended, gRPC takes it as is. */
  endpoint?: string;
  headers?: Record<string, string>;
}

export interface SignalExporters {
  traces: SpanExporter;
  logs: LogRecordExporter;
  metrics: PushMetricExporter;
}

export type BuiltExporter<S extends OtlpSignal> =
  | { exporter: SignalExporters[S] }
  /** The gRPC exporter could not be loaded or built: its package and the error. */
  | { unavailable: string; error: string; notInstalled: boolean };

export const GRPC_EXPORTER_PACKAGES: Record<OtlpSignal, string> = {
  traces: '@opentelemetry/exporter-trace-otlp-grpc',
  logs: '@opentelemetry/exporter-logs-otlp-grpc',
  metrics: '@opentelemetry/exporter-metrics-otlp-grpc',
};

const HTTP_PATHS: Record<OtlpSignal, string> = {
  traces: '/v1/traces',
  logs: '/v1/logs',
  metrics: '/v1/metrics',
};

/** Loads a package by name from this module's place; tests may pass another. */
export type ModuleLoader = (name: string) => unknown;

const requireHere = createRequire(import.meta.url);
const defaultLoader: ModuleLoader = (name) => requireHere(name);

type Ctor = new (config: Record<string, unknown>) => unknown;

export function createOtlpExporter<S extends OtlpSignal>(
  signal: S,
  protocol: OtlpProtocol,
  target: OtlpTarget,
  load: ModuleLoader = defaultLoader,
): BuiltExporter<S> {
  if (protocol === 'grpc') return grpcExporter(signal, target, load);
  const config: Record<string, unknown> = {};
  if (target.endpoint !== undefined) config.url = target.endpoint.replace(/\/+$/, '') + HTTP_PATHS[signal];
  if (target.headers !== undefined) config.headers = target.headers;
  const classes: Record<OtlpSignal, Ctor> =
    protocol === 'http/protobuf'
      ? { traces: ProtoTraceExporter, logs: ProtoLogExporter, metrics: ProtoMetricExporter }
      : { traces: JsonTraceExporter, logs: JsonLogExporter, metrics: JsonMetricExporter };
  return { exporter: new classes[signal](config) as SignalExporters[S] };
}

function grpcExporter<S extends OtlpSignal>(
  signal: S,
  target: OtlpTarget,
  load: ModuleLoader,
): BuiltExporter<S> {
  const name = GRPC_EXPORTER_PACKAGES[signal];
  try {
    const mod = load(name) as Record<string, unknown>;
    const ctor =
      signal === 'traces'
        ? mod.OTLPTraceExporter
        : signal === 'logs'
          ? mod.OTLPLogExporter
          : mod.OTLPMetricExporter;
    if (typeof ctor !== 'function') throw new TypeError(`${name} has no OTLP exporter class`);
    const config: Record<string, unknown> = {};
    // gRPC's target is host:port (a URL with http/https picks plaintext/TLS): no per-signal path.
    if (target.endpoint !== undefined) config.url = target.endpoint;
    if (target.headers !== undefined) config.metadata = grpcMetadata(name, target.headers, load);
    return { exporter: new (ctor as Ctor)(config) as SignalExporters[S] };
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    return {
      unavailable: name,
      error: err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err),
      // Not found, as opposed to found and failing (a bad endpoint URL): only then is the advice to install.
      notInstalled: code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND',
    };
  }
}

/**
 * The gRPC exporters take headers as a @grpc/grpc-js Metadata. The one their base package
 * resolves is used (it need not be resolvable from here), found through the exporter's path.
 */
function grpcMetadata(exporter: string, headers: Record<string, string>, load: ModuleLoader): unknown {
  const grpcJs =
    load === defaultLoader
      ? createRequire(
          createRequire(requireHere.resolve(exporter)).resolve('@opentelemetry/otlp-grpc-exporter-base'),
        )('@grpc/grpc-js')
      : load('@grpc/grpc-js');
  const { Metadata } = grpcJs as { Metadata: new () => { set(key: string, value: string): void } };
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return metadata;
}
