import type { IncomingMessage, ServerResponse } from 'node:http';
import { diag } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { BatchLogRecordProcessor, type LogRecordProcessor } from '@opentelemetry/sdk-logs';
import { PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { reportTelemetryError } from './errors.ts';
import type { LocalHistograms } from './local-histograms.ts';
import { createOtlpExporter, type ModuleLoader, type SignalExporters } from './otlp-exporters.ts';
import type { OtlpSignal } from './otlp-protocol.ts';
import {
  SafeLogRecordExporter,
  SafeLogRecordProcessor,
  SafeMetricExporter,
  SafeSpanExporter,
  SafeSpanProcessor,
} from './safe-processors.ts';
import type { EnvConfig } from './setup-env.ts';
import type { SetupOptions } from './setup-options.ts';

/**
 * The export side of setupLlmsec: which processors and readers each signal gets, from the
 * options and the OTEL_* environment (OTLP per signal over its protocol, the Prometheus reader), each
 * wrapped so that a throwing exporter or processor cannot reach the app. Apart from setup.ts,
 * which builds the providers from these and wires the rest.
 */
export interface SignalExports {
  spanProcessors: SpanProcessor[];
  logProcessors: LogRecordProcessor[];
  readers: MetricReader[];
  prometheus: PrometheusExporter | undefined;
}

/**
 * Each signal's export timeout when its variable (OTEL_BSP_EXPORT_TIMEOUT, OTEL_BLRP_EXPORT_TIMEOUT,
 * OTEL_METRIC_EXPORT_TIMEOUT) is unset: the specification's default, the processors' own. The
 * same value bounds what forceFlush and shutdown wait for the exporter's exports in flight (the
 * Safe*Exporter's waitMs): the exporters' own forceFlush and shutdown wait for every one.
 */
const BATCH_EXPORT_TIMEOUT_MS = 30_000;

/**
 * The caller's processors and readers, then llmsec's own. Every reader built here gets a
 * producer of `histograms` (local-histograms.ts): setup.ts attaches them when all readers did.
 */
export function buildSignalExports(
  options: SetupOptions,
  env: EnvConfig,
  histograms: LocalHistograms,
  load?: ModuleLoader,
): SignalExports {
  const otlp = options.otlp === false || env.sdkDisabled ? undefined : (options.otlp ?? {});
  const viaOptions = otlp?.endpoint !== undefined;
  const wanted: Record<OtlpSignal, boolean> = {
    traces: otlp !== undefined && (viaOptions || env.otlpTraces),
    logs: otlp !== undefined && (viaOptions || env.otlpLogs),
    metrics: otlp !== undefined && (viaOptions || env.otlpMetrics),
  };
  const exporting = wanted.traces || wanted.logs || wanted.metrics;
  if (exporting && otlp?.protocol === undefined && env.otlpProtocolsUnknown.length > 0) {
    warnOnce(
      `llmsec: ${env.otlpProtocolsUnknown.join(', ')}: not an OTLP protocol (grpc, http/protobuf or ` +
        'http/json); OTLP export uses the next setting or the default, http/json',
    );
  }
  const unavailable: string[] = [];
  const install: string[] = [];
  const build = <S extends OtlpSignal>(signal: S): SignalExporters[S] | undefined => {
    if (!wanted[signal] || otlp === undefined) return undefined;
    const protocol = otlp.protocol ?? env.otlpProtocols[signal].protocol;
    const target = {
      ...(otlp.endpoint !== undefined ? { endpoint: otlp.endpoint } : {}),
      ...(otlp.headers !== undefined ? { headers: otlp.headers } : {}),
    };
    const built = createOtlpExporter(signal, protocol, target, load);
    if ('exporter' in built) return built.exporter;
    const source = otlp.protocol !== undefined ? 'otlp.protocol' : env.otlpProtocols[signal].source;
    unavailable.push(`${signal} (${source}=grpc): ${built.unavailable}: ${built.error}`);
    if (built.notInstalled) install.push(`${built.unavailable}@${GRPC_EXPORTER_VERSION}`);
    return undefined;
  };
  const exporters = { traces: build('traces'), logs: build('logs'), metrics: build('metrics') };
  if (unavailable.length > 0) {
    // Never thrown: telemetry must not stop the app. Not only diag (silent without a diag
    // logger): the signals named are not exported at all, which an operator must learn.
    const advice =
      install.length === 0
        ? ''
        : ` The gRPC exporters are optional peer dependencies of @llmsec/sdk: npm install ${install.join(' ')} ` +
          '(they bring @grpc/grpc-js), or set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf with an OTLP/HTTP ' +
          'endpoint (a Collector: port 4318)';
    warnOnce(
      `llmsec: OTLP over gRPC could not be set up, these signals are NOT exported: ${unavailable.join('; ')}.${advice}`,
    );
  }

  const spanProcessors: SpanProcessor[] = (options.spanProcessors ?? []).map(
    (processor) => new SafeSpanProcessor({ processor }),
  );
  if (exporters.traces !== undefined) {
    const timeout = env.spanExportTimeoutMs ?? BATCH_EXPORT_TIMEOUT_MS;
    const exporter = new SafeSpanExporter({
      exporter: exporters.traces,
      component: 'otlp_traces',
      waitMs: timeout,
    });
    spanProcessors.push(
      new SafeSpanProcessor({
        processor: new BatchSpanProcessor({
          exporter,
          scheduledDelayMillis: env.spanScheduleDelayMs,
          exportTimeoutMillis: timeout,
        }),
        component: 'otlp_traces',
      }),
    );
  }
  const logProcessors: LogRecordProcessor[] = (options.logRecordProcessors ?? []).map(
    (processor) => new SafeLogRecordProcessor({ processor }),
  );
  if (exporters.logs !== undefined) {
    const timeout = env.logExportTimeoutMs ?? BATCH_EXPORT_TIMEOUT_MS;
    const exporter = new SafeLogRecordExporter({
      exporter: exporters.logs,
      component: 'otlp_logs',
      waitMs: timeout,
    });
    logProcessors.push(
      new SafeLogRecordProcessor({
        processor: new BatchLogRecordProcessor({
          exporter,
          scheduledDelayMillis: env.logScheduleDelayMs,
          exportTimeoutMillis: timeout,
        }),
        component: 'otlp_logs',
      }),
    );
  }
  const readers: MetricReader[] = [...(options.metricReaders ?? [])];
  if (exporters.metrics !== undefined && otlp !== undefined) {
    const interval = otlp.metricIntervalMs ?? env.metricIntervalMs ?? 60_000;
    const timeout = Math.min(env.metricTimeoutMs ?? BATCH_EXPORT_TIMEOUT_MS, interval);
    const exporter = new SafeMetricExporter({
      exporter: exporters.metrics,
      component: 'otlp_metrics',
      waitMs: timeout,
    });
    const producer = histograms.producer();
    const reader = new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: interval,
      exportTimeoutMillis: timeout,
      metricProducers: [producer],
    });
    producer.bind(reader);
    readers.push(reader);
  }
  let prometheus: PrometheusExporter | undefined;
  if (options.prometheus !== false && !env.sdkDisabled) {
    const p = options.prometheus ?? {};
    const port = p.port ?? env.prometheusPort;
    const producer = histograms.producer();
    prometheus = new PrometheusExporter(
      {
        metricProducers: [producer],
        port,
        host: p.host ?? env.prometheusHost ?? '127.0.0.1',
        endpoint: p.endpoint ?? '/metrics',
        preventServerStart: p.preventServerStart ?? port === undefined,
      },
      (err) => {
        if (err) reportTelemetryError('prometheus', err);
      },
    );
    // exporter-prometheus 0.301 pins its own sdk-metrics 3.1.0: the reader is the same class
    // in a sibling copy (private fields make the types nominal), so the cast is structural.
    const reader = prometheus as unknown as MetricReader;
    producer.bind(reader);
    readers.push(reader);
  }
  return { spanProcessors, logProcessors, readers, prometheus };
}

/** The line of the HTTP exporters this package depends on: the gRPC ones must match it. */
const GRPC_EXPORTER_VERSION = '0.301';

/**
 * console.warn and diag.warn, once per setup call and message: for a sink setup could not build
 * (not only diag, silent without a diag logger: an operator must learn it is missing).
 */
export function warnOnce(message: string): void {
  diag.warn(message);
  try {
    console.warn(message);
  } catch {
    // A replaced console that throws must not fail setup.
  }
}

/** The Prometheus text format as a request handler for the app's own server; never throws. */
export function prometheusHandler(
  exporter: PrometheusExporter,
): (req: IncomingMessage, res: ServerResponse) => void {
  return function llmsecMetricsHandler(req, res) {
    try {
      exporter.getMetricsRequestHandler(req, res);
    } catch (err) {
      reportTelemetryError('prometheus', err);
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    }
  };
}
