import type { IncomingMessage, ServerResponse } from 'node:http';
import { diag } from '@opentelemetry/api';
import type { Clock, IdGenerator, SecurityEvent } from '@llmsec/core';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations, type Instrumentation } from '@opentelemetry/instrumentation';
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@llmsec/core';
import { getTelemetryErrorCounter, reportTelemetryError, setTelemetryErrorCounter } from './errors.ts';
import { registerGlobals } from './globals.ts';
import { installSetupEvents } from './setup-events.ts';
import { JsonlEventWriter, type JsonlDestination } from './jsonl-writer.ts';
import { LlmsecMetrics } from './metrics.ts';
import { LocalHistograms } from './local-histograms.ts';
import { INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION } from './instrumentation/runtime.ts';
import {
  SafeLogRecordExporter,
  SafeLogRecordProcessor,
  SafeMetricExporter,
  SafeSpanExporter,
  SafeSpanProcessor,
} from './safe-processors.ts';
import { SecurityEvents, type SecurityEventsOptions } from './security-events.ts';
import { configFromEnv } from './setup-env.ts';

export interface SetupOptions {
  /** `service.name` of the resource and `service` of every event. Required. */
  serviceName: string;
  /**
   * OTLP/HTTP (JSON) export of traces, logs and metrics. Default: on for each signal whose
   * endpoint is configured: `endpoint` here (base URL; `/v1/traces` etc. are appended) or
   * OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT. `false`: off.
   */
  otlp?: { endpoint?: string; headers?: Record<string, string>; metricIntervalMs?: number } | false;
  /**
   * Prometheus reader. Default (undefined): the reader exists and `metricsHandler` serves it
   * (mount it on your server); its own server starts only when a port is given here or in
   * OTEL_EXPORTER_PROMETHEUS_PORT. `false`: no Prometheus reader.
   */
  prometheus?: { port?: number; host?: string; endpoint?: string; preventServerStart?: boolean } | false;
  /** The JSONL security log. @default false */
  jsonl?: JsonlDestination | false;
  /** Record redacted, truncated previews of prompts and responses. @default false */
  capturePreviews?: boolean;
  /** Extra processors and readers (wrapped so that a throwing one cannot reach the app). */
  spanProcessors?: SpanProcessor[];
  logRecordProcessors?: LogRecordProcessor[];
  metricReaders?: MetricReader[];
  /** Registered with registerInstrumentations against these providers; disabled at shutdown. */
  instrumentations?: Instrumentation[];
  /** Set global providers, the AsyncLocalStorage context manager and W3C propagators. @default true */
  registerGlobal?: boolean;
  /** The HMAC key of payload fingerprints (see SecurityEventsOptions). @default LLMSEC_FINGERPRINT_KEY, else the key file */
  fingerprintKey?: SecurityEventsOptions['fingerprintKey'];
  /** @default LLMSEC_FINGERPRINT_KEY_FILE, else ~/.llmsec/fingerprint.key (created 0600) */
  fingerprintKeyFile?: string;
  /** Passed to SecurityEvents. */
  onEvent?: (event: SecurityEvent) => void;
  /**
   * Inline detection: a detection engine (structurally `@llmsec/detect`'s DetectionEngine; give
   * it `state: new RedisDetectionState({ redis })` and N replicas detect as one process) fed
   * every security event this setup records, de-duplicated by id; `forceFlush()` flushes it
   * after the providers and `shutdown()` shuts it down before them (its alert log records still
   * export). The SDK does not depend on @llmsec/detect: any object of this shape will do.
   */
  detection?: DetectionTarget;
  clock?: Clock;
  ids?: IdGenerator;
}

/** What setupLlmsec needs of a detection engine (`@llmsec/detect`'s DetectionEngine has it). */
export interface DetectionTarget {
  /** Feeds one event; false for a recently seen id. Must not throw. */
  ingestOnce(event: SecurityEvent): boolean;
  /** End of input: process what is held (the engine's flush()). */
  flush?(): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface LlmsecSetup {
  events: SecurityEvents;
  metrics: LlmsecMetrics;
  tracerProvider: TracerProvider;
  loggerProvider: LoggerProvider;
  meterProvider: MeterProvider;
  prometheus?: PrometheusExporter;
  /** Serves the Prometheus text format; mount it at your `/metrics` route. */
  metricsHandler?: (req: IncomingMessage, res: ServerResponse) => void;
  jsonl?: JsonlEventWriter;
  /** Flushes and stops everything; idempotent (every call gets the same promise); never rejects. */
  shutdown(): Promise<void>;
  /** Exports whatever is buffered; never rejects. */
  forceFlush(): Promise<void>;
}

/**
 * One call to wire llmsec into an application: resource, tracer / logger / meter providers
 * with OTLP/HTTP export, the Prometheus reader, the JSONL log and the security-event API.
 * Invalid options throw here, at startup; nothing installed by it throws into the app later.
 */
export function setupLlmsec(options: SetupOptions): LlmsecSetup {
  validate(options);
  const env = configFromEnv();
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }));
  const otlp = options.otlp === false || env.sdkDisabled ? undefined : (options.otlp ?? {});
  const signalUrl = (path: string): { url?: string; headers?: Record<string, string> } => {
    const out: { url?: string; headers?: Record<string, string> } = {};
    if (otlp?.endpoint !== undefined) out.url = otlp.endpoint.replace(/\/+$/, '') + path;
    if (otlp?.headers !== undefined) out.headers = otlp.headers;
    return out;
  };
  const viaOptions = otlp?.endpoint !== undefined;

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
  // llmsec's histograms skip the SDK's per-record attribute hashing when every reader is built
  // here: each gets a producer of them (local-histograms.ts); attached below if all qualify.
  const histograms = new LocalHistograms();
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

  const tracerProvider = new TracerProvider({ resource, spanProcessors });
  const loggerProvider = new LoggerProvider({ resource, processors: logProcessors });
  const meterProvider = new MeterProvider({ resource, readers });
  if (histograms.covers(readers)) {
    histograms.attach(meterProvider.getMeter('@llmsec/sdk'), '@llmsec/sdk');
    // The LLM client instrumentation's own meter (LlmClientInstrumentation on the global provider).
    histograms.attach(
      meterProvider.getMeter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION),
      INSTRUMENTATION_NAME,
      INSTRUMENTATION_VERSION,
    );
  }
  const metrics = new LlmsecMetrics({ meter: meterProvider.getMeter('@llmsec/sdk') });
  setTelemetryErrorCounter(metrics);
  const jsonl = options.jsonl ? new JsonlEventWriter({ destination: options.jsonl }) : undefined;
  const events = new SecurityEvents({
    serviceName: options.serviceName,
    tracer: tracerProvider.getTracer('@llmsec/sdk'),
    logger: loggerProvider.getLogger('@llmsec/sdk'),
    metrics,
    capturePreviews: options.capturePreviews ?? false,
    jsonl,
    onEvent: eventListener(options),
    clock: options.clock,
    ids: options.ids,
    ...(options.fingerprintKey !== undefined ? { fingerprintKey: options.fingerprintKey } : {}),
    ...(options.fingerprintKeyFile !== undefined ? { fingerprintKeyFile: options.fingerprintKeyFile } : {}),
  });
  const unregister =
    options.registerGlobal === false
      ? () => {}
      : registerGlobals({ tracerProvider, loggerProvider, meterProvider });
  // Clients instrumented without an `events` option record through this setup's (JSONL, onEvent, detection).
  const uninstallEvents = options.registerGlobal === false ? () => {} : installSetupEvents(events);
  // LLM client instrumentations record their security events through this SecurityEvents
  // (so JSONL, onEvent and detection see them) unless they were given their own.
  for (const inst of options.instrumentations ?? []) {
    const target = inst as Partial<{ setEvents(e: SecurityEvents): void; hasOwnEvents(): boolean }>;
    if (typeof target.setEvents === 'function' && target.hasOwnEvents?.() !== true) target.setEvents(events);
  }
  const disableInstrumentations =
    options.instrumentations !== undefined && options.instrumentations.length > 0
      ? registerInstrumentations({
          instrumentations: options.instrumentations,
          tracerProvider,
          meterProvider,
          loggerProvider,
        })
      : () => {};

  const forceFlush = async (): Promise<void> => {
    await Promise.all([
      settle('tracer_provider', () => tracerProvider.forceFlush()),
      settle('logger_provider', () => loggerProvider.forceFlush()),
      settle('meter_provider', () => meterProvider.forceFlush()),
      settle('jsonl', () => jsonl?.flush()),
    ]);
    // After the providers: events still buffered in them have reached the engine by now.
    await settle('detection', () => options.detection?.forceFlush());
  };
  let shutdownPromise: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    shutdownPromise ??= (async () => {
      await settle('instrumentation', () => disableInstrumentations());
      // Before the providers: the engine's last alerts (log records) must still export.
      await settle('detection', async () => {
        options.detection?.flush?.();
        await options.detection?.shutdown();
      });
      await Promise.all([
        settle('tracer_provider', () => tracerProvider.shutdown()),
        settle('logger_provider', () => loggerProvider.shutdown()),
        settle('meter_provider', () => meterProvider.shutdown()),
        settle('jsonl', () => jsonl?.close()),
      ]);
      unregister();
      uninstallEvents();
      if (getTelemetryErrorCounter() === metrics) setTelemetryErrorCounter(undefined);
    })();
    return shutdownPromise;
  };

  const result: LlmsecSetup = {
    events,
    metrics,
    tracerProvider,
    loggerProvider,
    meterProvider,
    shutdown,
    forceFlush,
  };
  if (jsonl !== undefined) result.jsonl = jsonl;
  if (prometheus !== undefined) {
    const exporter = prometheus;
    result.prometheus = exporter;
    result.metricsHandler = function llmsecMetricsHandler(req, res) {
      try {
        exporter.getMetricsRequestHandler(req, res);
      } catch (err) {
        reportTelemetryError('prometheus', err);
        if (!res.headersSent) res.statusCode = 500;
        res.end();
      }
    };
  }
  return result;
}

/** The SecurityEvents listener: the caller's onEvent, then the detection engine (each guarded). */
function eventListener(options: SetupOptions): ((event: SecurityEvent) => void) | undefined {
  const { onEvent, detection } = options;
  if (detection === undefined) return onEvent;
  return function llmsecOnEvent(event: SecurityEvent): void {
    if (onEvent !== undefined) {
      try {
        onEvent(event);
      } catch (err) {
        reportTelemetryError('on_event', err);
      }
    }
    try {
      detection.ingestOnce(event);
    } catch (err) {
      reportTelemetryError('detection', err);
    }
  };
}

async function settle(component: string, work: () => unknown): Promise<void> {
  try {
    await work();
  } catch (err) {
    reportTelemetryError(component, err);
  }
}

function validate(options: SetupOptions): void {
  if (options === null || typeof options !== 'object')
    throw new TypeError('setupLlmsec: options object required');
  if (typeof options.serviceName !== 'string' || options.serviceName.trim() === '') {
    throw new TypeError('setupLlmsec: serviceName must be a non-empty string');
  }
  const endpoint = options.otlp === false ? undefined : options.otlp?.endpoint;
  if (endpoint !== undefined && !URL.canParse(endpoint)) {
    throw new TypeError(`setupLlmsec: otlp.endpoint is not a URL: ${JSON.stringify(endpoint)}`);
  }
  const port = options.prometheus === false ? undefined : options.prometheus?.port;
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new TypeError(`setupLlmsec: prometheus.port must be an integer in 1..65535, got ${String(port)}`);
  }
  const detection = options.detection as Partial<DetectionTarget> | undefined;
  if (
    detection !== undefined &&
    (detection === null ||
      typeof detection.ingestOnce !== 'function' ||
      typeof detection.forceFlush !== 'function' ||
      typeof detection.shutdown !== 'function')
  ) {
    throw new TypeError(
      'setupLlmsec: detection must be a DetectionEngine (ingestOnce, forceFlush, shutdown)',
    );
  }
  if (
    options.jsonl !== undefined &&
    options.jsonl !== false &&
    options.jsonl !== 'stdout' &&
    typeof options.jsonl !== 'object'
  ) {
    throw new TypeError("setupLlmsec: jsonl must be 'stdout', { path }, a Writable or false");
  }
  if (options.registerGlobal !== false && options.otlp === undefined && options.prometheus === undefined) {
    diag.debug(
      'llmsec: setup with defaults (OTLP from OTEL_* env, Prometheus handler without its own server)',
    );
  }
}
