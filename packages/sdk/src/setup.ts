import { registerInstrumentations } from '@opentelemetry/instrumentation';
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, type SecurityEvent } from '@llmsec/core';
import { getTelemetryErrorCounter, reportTelemetryError, setTelemetryErrorCounter } from './errors.ts';
import { registerGlobals } from './globals.ts';
import { installSetupEvents } from './setup-events.ts';
import { JsonlEventWriter } from './jsonl-writer.ts';
import { LlmsecMetrics } from './metrics.ts';
import { LocalHistograms } from './local-histograms.ts';
import { INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION } from './instrumentation/runtime.ts';
import { SecurityEvents } from './security-events.ts';
import { configFromEnv } from './setup-env.ts';
import { buildSignalExports, prometheusHandler, warnOnce } from './setup-exporters.ts';
import { setupLifecycle } from './setup-lifecycle.ts';
import { validateSetupOptions, type LlmsecSetup, type SetupOptions } from './setup-options.ts';

export type { SetupOptions, LlmsecSetup, DetectionTarget } from './setup-options.ts';

/**
 * One call to wire llmsec into an application: resource, tracer / logger / meter providers
 * with OTLP/HTTP export, the Prometheus reader, the JSONL log and the security-event API.
 * Invalid options throw here, at startup; nothing installed by it throws into the app later.
 * The options and their checks are in setup-options.ts, the exporters and readers of each
 * signal in setup-exporters.ts, forceFlush and shutdown in setup-lifecycle.ts.
 */
export function setupLlmsec(options: SetupOptions): LlmsecSetup {
  validateSetupOptions(options);
  const env = configFromEnv();
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }));
  // llmsec's histograms skip the SDK's per-record attribute hashing when every reader is built
  // here: each gets a producer of them (local-histograms.ts); attached below if all qualify.
  const histograms = new LocalHistograms();
  // The JSONL file is opened first: an invalid destination throws before any exporter or
  // Prometheus server exists to be left behind. A file that cannot be opened does not.
  const opened = options.jsonl ? openJsonl(options.jsonl, env.logExportTimeoutMs) : undefined;
  const jsonl = opened instanceof JsonlEventWriter ? opened : undefined;
  const { spanProcessors, logProcessors, readers, prometheus } = buildSignalExports(options, env, histograms);

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
  if (opened instanceof Error) reportTelemetryError('jsonl', opened);
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

  const { forceFlush, shutdown } = setupLifecycle({
    tracerProvider,
    loggerProvider,
    meterProvider,
    jsonl,
    detection: options.detection,
    disableInstrumentations,
    release: () => {
      unregister();
      uninstallEvents();
      if (getTelemetryErrorCounter() === metrics) setTelemetryErrorCounter(undefined);
    },
  });

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
    result.prometheus = prometheus;
    result.metricsHandler = prometheusHandler(prometheus);
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

/**
 * The JSONL writer; an invalid destination (not a path, stream or 'stdout') throws, a configuration
 * error. A file that cannot be opened (a missing directory, no permission, a full disk) is the
 * host's state, not the code's: it must not stop the application from starting (DESIGN.md, as an
 * uninstalled gRPC exporter or a taken Prometheus port do not), so it is warned about and
 * returned as the error, to be counted once the telemetry-error counter exists; setup runs
 * without the JSONL log (spans, logs, metrics, onEvent and detection still record every event).
 * Its flush and shutdown wait for the stream at most the log signal's export timeout
 * (OTEL_BLRP_EXPORT_TIMEOUT, 30 s by default): the JSONL file is the security log.
 */
function openJsonl(
  destination: NonNullable<SetupOptions['jsonl']>,
  flushTimeoutMs: number | undefined,
): JsonlEventWriter | Error | undefined {
  if (destination === false) return undefined;
  try {
    return new JsonlEventWriter({ destination, ...(flushTimeoutMs !== undefined ? { flushTimeoutMs } : {}) });
  } catch (err) {
    const message = `setupLlmsec: jsonl: ${(err as Error).message.replace(/^JsonlEventWriter: /, '')}`;
    if (err instanceof TypeError) throw new TypeError(message);
    warnOnce(`llmsec: ${message.replace(/^setupLlmsec: /, '')}; the JSONL security log is NOT written`);
    return err instanceof Error ? err : new Error(message);
  }
}
