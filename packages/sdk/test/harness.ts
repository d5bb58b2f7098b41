import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import {
  AggregationTemporality,
  MeterProvider,
  MetricReader,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ManualClock, createIdGenerator, seededRandom } from '@llmsec/core';
import { LlmsecMetrics } from '../src/metrics.ts';
import { SecurityEvents, type SecurityEventsOptions } from '../src/security-events.ts';

/** A pull reader for tests: `collect()` on demand, cumulative. */
export class TestMetricReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}

  async metrics(): Promise<MetricData[]> {
    const { resourceMetrics } = await this.collect();
    return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  }

  async metric(name: string): Promise<MetricData | undefined> {
    return (await this.metrics()).find((m) => m.descriptor.name === name);
  }
}

/**
 * Real SDK providers with in-memory exporters and simple (synchronous) processors, plus the
 * AsyncLocalStorage context manager, and a SecurityEvents on them with a manual clock and
 * seeded ids.
 */
export function createHarness(options: Partial<SecurityEventsOptions> = {}) {
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  const spanExporter = new InMemorySpanExporter();
  const logExporter = new InMemoryLogRecordExporter();
  const reader = new TestMetricReader();
  const tracerProvider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter: spanExporter })],
  });
  const loggerProvider = new LoggerProvider({
    processors: [new SimpleLogRecordProcessor({ exporter: logExporter })],
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const clock = new ManualClock(Date.parse('2026-11-22T10:00:00.000Z'));
  const metrics = new LlmsecMetrics({ meter: meterProvider.getMeter('test') });
  const events = new SecurityEvents({
    serviceName: 'test-svc',
    logger: loggerProvider.getLogger('@llmsec/sdk'),
    metrics,
    clock,
    ids: createIdGenerator(seededRandom(42)),
    ...options,
  });
  const tracer = tracerProvider.getTracer('test');
  return {
    events,
    metrics,
    tracer,
    clock,
    spanExporter,
    logExporter,
    reader,
    tracerProvider,
    loggerProvider,
    meterProvider,
    async close(): Promise<void> {
      await Promise.all([tracerProvider.shutdown(), loggerProvider.shutdown(), meterProvider.shutdown()]);
      context.disable();
      trace.disable();
    },
  };
}
