import type { LoggerProvider } from '@opentelemetry/sdk-logs';
import type { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { TracerProvider } from '@opentelemetry/sdk-trace';
import { reportTelemetryError } from './errors.ts';
import type { JsonlEventWriter } from './jsonl-writer.ts';
import type { DetectionTarget, LlmsecSetup } from './setup-options.ts';

/**
 * The end of a setup: forceFlush and shutdown of what setupLlmsec (setup.ts) built, in the order
 * the data flows (instrumentations stop first; the detection engine flushes after the providers
 * and shuts down before them, so its last alerts still export). Shutdown runs once and every
 * call gets the same promise; neither ever rejects: each step's failure goes to the error funnel.
 */
export interface SetupParts {
  tracerProvider: TracerProvider;
  loggerProvider: LoggerProvider;
  meterProvider: MeterProvider;
  jsonl: JsonlEventWriter | undefined;
  detection: DetectionTarget | undefined;
  /** Undoes registerInstrumentations (disables the instrumentations). */
  disableInstrumentations: () => void;
  /** The last step of shutdown, after everything is flushed and stopped: undo the globals. */
  release: () => void;
}

export function setupLifecycle(parts: SetupParts): Pick<LlmsecSetup, 'forceFlush' | 'shutdown'> {
  const { tracerProvider, loggerProvider, meterProvider, jsonl, detection } = parts;
  const forceFlush = async (): Promise<void> => {
    await Promise.all([
      settle('tracer_provider', () => tracerProvider.forceFlush()),
      settle('logger_provider', () => loggerProvider.forceFlush()),
      settle('meter_provider', () => meterProvider.forceFlush()),
      settle('jsonl', () => jsonl?.flush()),
    ]);
    // After the providers: events still buffered in them have reached the engine by now.
    await settle('detection', () => detection?.forceFlush());
  };
  let shutdownPromise: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    shutdownPromise ??= (async () => {
      await settle('instrumentation', () => parts.disableInstrumentations());
      // Before the providers: the engine's last alerts (log records) must still export.
      await settle('detection', async () => {
        detection?.flush?.();
        await detection?.shutdown();
      });
      await Promise.all([
        settle('tracer_provider', () => tracerProvider.shutdown()),
        settle('logger_provider', () => loggerProvider.shutdown()),
        settle('meter_provider', () => meterProvider.shutdown()),
        settle('jsonl', () => jsonl?.close()),
      ]);
      parts.release();
    })();
    return shutdownPromise;
  };
  return { forceFlush, shutdown };
}

async function settle(component: string, work: () => unknown): Promise<void> {
  try {
    await work();
  } catch (err) {
    reportTelemetryError(component, err);
  }
}
