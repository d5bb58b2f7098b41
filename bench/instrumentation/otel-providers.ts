/**
 * The OpenTelemetry SDK set-up every instrumentation bench shares: real providers with their
 * batch processors (so the per-call cost includes what a production set-up pays), exporting
 * to nowhere, and a metric reader that is never collected (records still aggregate).
 */
import { context, logs, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';

/** A cumulative reader nobody collects from: instruments record and aggregate, nothing exports. */
export class CumulativeReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface DiscardingProviders {
  tracerProvider: TracerProvider;
  loggerProvider: LoggerProvider;
  meterProvider: MeterProvider;
  shutdown(): Promise<void>;
}

/** Registers the async-hooks context manager and SDK providers that discard what they export as the globals. */
export function installDiscardingProviders(): DiscardingProviders {
  const discardSpans: SpanExporter = { export: (_s, done) => done({ code: 0 }), shutdown: async () => {} };
  const discardLogs: LogRecordExporter = {
    export: (_l, done) => done({ code: 0 }),
    shutdown: async () => {},
    forceFlush: async () => {},
  };
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const tracerProvider = new TracerProvider({
    spanProcessors: [new BatchSpanProcessor({ exporter: discardSpans })],
  });
  const loggerProvider = new LoggerProvider({
    processors: [new BatchLogRecordProcessor({ exporter: discardLogs })],
  });
  const meterProvider = new MeterProvider({ readers: [new CumulativeReader()] });
  trace.setGlobalTracerProvider(tracerProvider);
  logs.setGlobalLoggerProvider(loggerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  return {
    tracerProvider,
    loggerProvider,
    meterProvider,
    shutdown: async () => {
      await Promise.all([tracerProvider.shutdown(), loggerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
}
