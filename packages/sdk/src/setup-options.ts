import type { IncomingMessage, ServerResponse } from 'node:http';
import { diag } from '@opentelemetry/api';
import type { Clock, IdGenerator, SecurityEvent } from '@llmsec/core';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { LoggerProvider, LogRecordProcessor } from '@opentelemetry/sdk-logs';
import type { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { SpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { isOtlpProtocol, OTLP_PROTOCOLS, type OtlpProtocol } from './otlp-protocol.ts';
import type { JsonlDestination, JsonlEventWriter } from './jsonl-writer.ts';
import type { LlmsecMetrics } from './metrics.ts';
import type { SecurityEvents, SecurityEventsOptions } from './security-events.ts';

/**
 * What setupLlmsec (setup.ts) takes and gives: its options, the shape of a detection engine,
 * the result; and the check that rejects invalid options at startup (bad configuration throws
 * there, nothing installed throws into the app later). The types are re-exported from
 * setup.ts, the path the package index and the tests import them by.
 */

export interface SetupOptions {
  /** `service.name` of the resource and `service` of every event. Required. */
  serviceName: string;
  /**
   * OTLP export of traces, logs and metrics. Default: on for each signal whose endpoint is
   * configured: `endpoint` here (base URL; over HTTP `/v1/traces` etc. are appended, over gRPC
   * it is the target as is: `http://host:port`, `https://host:port`, or with `protocol: 'grpc'`
   * a bare `host:port`, TLS unless OTEL_EXPORTER_OTLP_INSECURE=true) or OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT.
   * `protocol` overrides OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL and OTEL_EXPORTER_OTLP_PROTOCOL for
   * every signal; `grpc` needs the optional peer dependencies @opentelemetry/exporter-{trace,logs,
   * metrics}-otlp-grpc (without them setup warns and those signals are not exported).
   * `false`: off.
   */
  otlp?:
    | {
        endpoint?: string;
        headers?: Record<string, string>;
        /** @default OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else `http/json` */
        protocol?: OtlpProtocol;
        metricIntervalMs?: number;
      }
    | false;
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
   * export). The SDK does not depend on @llmsec/detect: any object of this shape will do. Read
   * once, by setupLlmsec: the engine given then is the one fed, flushed and shut down.
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

/** Throws a TypeError for options setupLlmsec cannot honour; the first failing check wins. */
export function validateSetupOptions(options: SetupOptions): void {
  if (options === null || typeof options !== 'object')
    throw new TypeError('setupLlmsec: options object required');
  if (typeof options.serviceName !== 'string' || options.serviceName.trim() === '') {
    throw new TypeError('setupLlmsec: serviceName must be a non-empty string');
  }
  const protocol: unknown = options.otlp === false ? undefined : options.otlp?.protocol;
  if (protocol !== undefined && !isOtlpProtocol(protocol)) {
    throw new TypeError(
      `setupLlmsec: otlp.protocol must be one of ${OTLP_PROTOCOLS.join(', ')}, got ${JSON.stringify(protocol)}`,
    );
  }
  const endpoint = options.otlp === false ? undefined : options.otlp?.endpoint;
  // Over gRPC the spec takes any target form of the gRPC client, so a bare host:port too (the
  // exporter reads it as https:// unless OTEL_EXPORTER_OTLP_INSECURE=true). Only when the option
  // says grpc: over HTTP `/v1/<signal>` is appended and the result must be a URL.
  const grpcTarget = protocol === 'grpc' && endpoint !== undefined && URL.canParse(`https://${endpoint}`);
  if (endpoint !== undefined && !URL.canParse(endpoint) && !grpcTarget) {
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
