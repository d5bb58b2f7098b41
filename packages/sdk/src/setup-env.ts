import { signalProtocol, type OtlpSignal, type SignalProtocol } from './otlp-protocol.ts';

/**
 * The few OTEL_* environment variables setupLlmsec reads itself, read only here and only when
 * setup runs (so tests can set them). The OTLP exporters read the rest of the standard ones
 * (OTEL_EXPORTER_OTLP_*_ENDPOINT, _HEADERS, _TIMEOUT, _COMPRESSION, ...) on their own.
 */
export interface EnvConfig {
  /** A base or per-signal OTLP endpoint is configured and OTEL_<SIGNAL>_EXPORTER is not `none`: export that signal over OTLP. */
  otlpTraces: boolean;
  otlpLogs: boolean;
  otlpMetrics: boolean;
  /** OTEL_BSP_SCHEDULE_DELAY (ms). */
  spanScheduleDelayMs: number | undefined;
  /** OTEL_BLRP_SCHEDULE_DELAY (ms). */
  logScheduleDelayMs: number | undefined;
  /**
   * OTEL_BSP_EXPORT_TIMEOUT / OTEL_BLRP_EXPORT_TIMEOUT (ms): how long the batch processors wait
   * for one export, and so what bounds forceFlush and shutdown. The 2.x processors no longer read
   * them (the Node SDK package does), so setup passes them.
   */
  spanExportTimeoutMs: number | undefined;
  logExportTimeoutMs: number | undefined;
  /** OTEL_METRIC_EXPORT_INTERVAL (ms). */
  metricIntervalMs: number | undefined;
  /** OTEL_METRIC_EXPORT_TIMEOUT (ms). */
  metricTimeoutMs: number | undefined;
  /** OTEL_EXPORTER_PROMETHEUS_HOST / _PORT. */
  prometheusHost: string | undefined;
  prometheusPort: number | undefined;
  /** OTEL_SDK_DISABLED=true: install nothing that exports. */
  sdkDisabled: boolean;
  /**
   * Each signal's OTLP protocol from OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL, else
   * OTEL_EXPORTER_OTLP_PROTOCOL, else the default (otlp-protocol.ts); the `otlp.protocol`
   * option overrides it in setup-exporters.ts.
   */
  otlpProtocols: Record<OtlpSignal, SignalProtocol>;
  /** `NAME="value"` of each protocol variable that is none of the three values: setup warns once. */
  otlpProtocolsUnknown: string[];
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): EnvConfig {
  const has = (name: string): boolean => (env[name] ?? '').trim() !== '';
  const base = has('OTEL_EXPORTER_OTLP_ENDPOINT');
  // OTEL_<SIGNAL>_EXPORTER=none turns one signal's OTLP export off (e.g. metrics that
  // Prometheus already scrapes from /metrics, which would otherwise be stored twice).
  const off = (signal: string): boolean =>
    (env[`OTEL_${signal}_EXPORTER`] ?? '').trim().toLowerCase() === 'none';
  const unknown: string[] = [];
  const otlpProtocols: Record<OtlpSignal, SignalProtocol> = {
    traces: signalProtocol('traces', undefined, env, unknown),
    logs: signalProtocol('logs', undefined, env, unknown),
    metrics: signalProtocol('metrics', undefined, env, unknown),
  };
  return {
    otlpTraces: (base || has('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')) && !off('TRACES'),
    otlpLogs: (base || has('OTEL_EXPORTER_OTLP_LOGS_ENDPOINT')) && !off('LOGS'),
    otlpMetrics: (base || has('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT')) && !off('METRICS'),
    spanScheduleDelayMs: positiveInt(env.OTEL_BSP_SCHEDULE_DELAY),
    logScheduleDelayMs: positiveInt(env.OTEL_BLRP_SCHEDULE_DELAY),
    spanExportTimeoutMs: positiveInt(env.OTEL_BSP_EXPORT_TIMEOUT),
    logExportTimeoutMs: positiveInt(env.OTEL_BLRP_EXPORT_TIMEOUT),
    metricIntervalMs: positiveInt(env.OTEL_METRIC_EXPORT_INTERVAL),
    metricTimeoutMs: positiveInt(env.OTEL_METRIC_EXPORT_TIMEOUT),
    prometheusHost: has('OTEL_EXPORTER_PROMETHEUS_HOST')
      ? env.OTEL_EXPORTER_PROMETHEUS_HOST?.trim()
      : undefined,
    prometheusPort: positiveInt(env.OTEL_EXPORTER_PROMETHEUS_PORT),
    sdkDisabled: (env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true',
    otlpProtocols,
    otlpProtocolsUnknown: unknown,
  };
}

function positiveInt(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}
