import type { IncomingMessage, ServerResponse } from 'node:http';
import { diag } from '@opentelemetry/api';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BatchLogRecordProcessor, type LogRecordProcessor } from '@opentelemetry/sdk-logs';
import { PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { reportTelemetryError } from './errors.ts';
import type { LocalHistograms } from './local-histograms.ts';
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
 * options and the OTEL_* environment (OTLP/HTTP per signal, the Prometheus reader), each
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
 * The caller's processors and readers, then llmsec's own. Every reader built here gets a
 * producer of `histograms` (local-histograms.ts): setup.ts attaches them when all readers did.
 */
export function buildSignalExports(
  options: SetupOptions,
  env: EnvConfig,
  histograms: LocalHistograms,
): SignalExports {
  const otlp = options.otlp === false || env.sdkDisabled ? undefined : (options.otlp ?? {});
  const signalUrl = (path: string): { url?: string; headers?: Record<string, string> } => {
    const out: { url?: string; headers?: Record<string, string> } = {};
    if (otlp?.endpoint !== undefined) out.url = otlp.endpoint.replace(/\/+$/, '') + path;
    if (otlp?.headers !== undefined) out.headers = otlp.headers;
    return out;
  };
  const viaOptions = otlp?.endpoint !== undefined;
  if (
    otlp !== undefined &&
    env.otlpProtocolsIgnored.length > 0 &&
    (viaOptions || env.otlpTraces || env.otlpLogs || env.otlpMetrics)
  ) {
    // A Collector user's OTEL_EXPORTER_OTLP_PROTOCOL=grpc (endpoint :4317) would otherwise get
    // JSON over HTTP sent to a gRPC port: every export lost, only counted as telemetry errors.
    diag.warn(
      `llmsec: ${env.otlpProtocolsIgnored.join(', ')} is not honoured: setupLlmsec exports OTLP ` +
        'as http/json only; point the endpoint at an OTLP/HTTP receiver (a Collector: port 4318)',
    );
  }

  const spanProcessors: SpanProcessor[] = (options.spanProcessors ?? []).map(
    (processor) => new SafeSpanProcessor({ processor }),
  );
  if (otlp !== undefined && (viaOptions || env.otlpTraces)) {
    const exporter = new SafeSpanExporter({
      exporter: new OTLPTraceExporter(signalUrl('/v1/traces')),
      component: 'otlp_traces',
    });
    spanProcessors.push(
      new SafeSpanProcessor({
        processor: new BatchSpanProcessor({ exporter, scheduledDelayMillis: env.spanScheduleDelayMs }),
        component: 'otlp_traces',
      }),
    );
  }
  const logProcessors: LogRecordProcessor[] = (options.logRecordProcessors ?? []).map(
    (processor) => new SafeLogRecordProcessor({ processor }),
  );
  if (otlp !== undefined && (viaOptions || env.otlpLogs)) {
    const exporter = new SafeLogRecordExporter({
      exporter: new OTLPLogExporter(signalUrl('/v1/logs')),
      component: 'otlp_logs',
    });
    logProcessors.push(
      new SafeLogRecordProcessor({
        processor: new BatchLogRecordProcessor({ exporter, scheduledDelayMillis: env.logScheduleDelayMs }),
        component: 'otlp_logs',
      }),
    );
  }
  const readers: MetricReader[] = [...(options.metricReaders ?? [])];
  if (otlp !== undefined && (viaOptions || env.otlpMetrics)) {
    const exporter = new SafeMetricExporter({
      exporter: new OTLPMetricExporter(signalUrl('/v1/metrics')),
      component: 'otlp_metrics',
    });
    const interval = otlp.metricIntervalMs ?? env.metricIntervalMs ?? 60_000;
    const producer = histograms.producer();
    const reader = new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: interval,
      exportTimeoutMillis: Math.min(env.metricTimeoutMs ?? 30_000, interval),
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
