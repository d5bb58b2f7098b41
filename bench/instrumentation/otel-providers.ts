/**
 * The OpenTelemetry SDK set-up every instrumentation bench shares: real providers with their
 * batch processors (so the per-call cost includes what a production set-up pays), exporting
 * to nowhere, and a metric reader that is never collected (records still aggregate).
 *
 * The reader is built as setupLlmsec builds its readers: with a producer of llmsec's local
 * histograms (packages/sdk/src/local-histograms.ts), so llmsec's meters record their
 * histograms in process. `--sdk-histograms` on the command line (or `sdkHistograms: true`)
 * (or LLMSEC_BENCH_SDK_HISTOGRAMS=1) leaves the meters unattached: llmsec then records into the SDK's Histogram, as it does on a
 * MeterProvider the host built.
 */
import { context, logs, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { LocalHistograms } from '../../packages/sdk/src/local-histograms.ts';
import {
  INSTRUMENTATION_NAME,
  INSTRUMENTATION_VERSION,
} from '../../packages/sdk/src/instrumentation/runtime.ts';
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';

/** A cumulative reader nobody collects from: instruments record and aggregate, nothing exports. */
export class CumulativeReader extends MetricReader {
  private readonly histograms: LocalHistograms[];

  /**
   * `classes`: the LocalHistograms class of each SDK copy whose meters are to be attached (a
   * revision loaded by bench/events/revision.ts, or an older tree, has its own module and so its
   * own registry of attached meters); default this checkout's. One producer per copy.
   */
  constructor(...classes: Array<typeof LocalHistograms>) {
    const histograms = (classes.length > 0 ? classes : [LocalHistograms]).map((H) => new H());
    const producers = histograms.map((h) => h.producer());
    super({
      aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
      metricProducers: producers,
    });
    for (const producer of producers) producer.bind(this);
    this.histograms = histograms;
  }

  /**
   * llmsec's meters on `meterProvider` (this reader its only reader) record their histograms in
   * process, as under setupLlmsec, in every copy given; unless `--sdk-histograms` was given.
   * True when attached.
   */
  attachLlmsecHistograms(meterProvider: MeterProvider): boolean {
    if (SDK_HISTOGRAMS || !this.histograms.every((h) => h.covers([this]))) return false;
    for (const h of this.histograms) {
      h.attach(meterProvider.getMeter('@llmsec/sdk'), '@llmsec/sdk');
      h.attach(
        meterProvider.getMeter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION),
        INSTRUMENTATION_NAME,
        INSTRUMENTATION_VERSION,
      );
    }
    return true;
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

/** `--sdk-histograms`: llmsec records into the SDK's Histogram (a host's MeterProvider), not in process. */
export const SDK_HISTOGRAMS =
  process.argv.includes('--sdk-histograms') || process.env.LLMSEC_BENCH_SDK_HISTOGRAMS === '1';
// The peer children (peers.ts) inherit the environment, not the flags.
if (SDK_HISTOGRAMS) process.env.LLMSEC_BENCH_SDK_HISTOGRAMS = '1';

/**
 * Registers the async-hooks context manager and SDK providers that discard what they export as
 * the globals. `classes`: see CumulativeReader.
 */
export function installDiscardingProviders(...classes: Array<typeof LocalHistograms>): DiscardingProviders {
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
  const reader = new CumulativeReader(...classes);
  const meterProvider = new MeterProvider({ readers: [reader] });
  reader.attachLlmsecHistograms(meterProvider);
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
