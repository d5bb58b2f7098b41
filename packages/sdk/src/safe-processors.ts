import type { Context } from '@opentelemetry/api';
import { untraced } from '@llmsec/core/internal';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type {
  LogRecordExporter,
  LogRecordProcessor,
  ReadableLogRecord,
  ReadWriteLogRecord,
} from '@opentelemetry/sdk-logs';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import { boundedWait } from './bounded-wait.ts';
import { reportTelemetryError } from './errors.ts';
import { mergeRepeatedScopes } from './merge-scopes.ts';

/**
 * Wrappers that keep a throwing processor or exporter away from application code. In SDK
 * 3.1, `Span.end()` and `Logger.emit()` call processors with no try/catch (MultiSpanProcessor,
 * MultiLogRecordProcessor), and a synchronous throw from an exporter inside a simple
 * processor surfaces in the same call. setupLlmsec wraps everything it installs.
 *
 * Exports, flushes and shutdowns run in core's untraced context (suppressTracing on the root
 * context): the OTLP requests are llmsec's own I/O, so an http instrumentation must neither
 * trace them nor copy the baggage of the user request that ended a span onto them.
 */

async function settle(component: string, work: () => Promise<void> | undefined): Promise<void> {
  try {
    await untraced(work);
  } catch (err) {
    reportTelemetryError(component, err);
  }
}

export class SafeSpanProcessor implements SpanProcessor {
  private readonly inner: SpanProcessor;
  private readonly component: string;

  constructor(options: { processor: SpanProcessor; component?: string }) {
    this.inner = options.processor;
    this.component = options.component ?? 'span_processor';
  }

  onStart(span: Span, parentContext: Context): void {
    try {
      this.inner.onStart(span, parentContext);
    } catch (err) {
      reportTelemetryError(this.component, err);
    }
  }

  onEnding(span: Span): void {
    try {
      this.inner.onEnding?.(span);
    } catch (err) {
      reportTelemetryError(this.component, err);
    }
  }

  onEnd(span: ReadableSpan): void {
    try {
      this.inner.onEnd(span);
    } catch (err) {
      reportTelemetryError(this.component, err);
    }
  }

  forceFlush(): Promise<void> {
    return settle(this.component, () => this.inner.forceFlush());
  }

  shutdown(): Promise<void> {
    return settle(this.component, () => this.inner.shutdown());
  }
}

export class SafeLogRecordProcessor implements LogRecordProcessor {
  private readonly inner: LogRecordProcessor;
  private readonly component: string;

  constructor(options: { processor: LogRecordProcessor; component?: string }) {
    this.inner = options.processor;
    this.component = options.component ?? 'log_processor';
  }

  onEmit(logRecord: ReadWriteLogRecord, context?: Context): void {
    try {
      this.inner.onEmit(logRecord, context);
    } catch (err) {
      reportTelemetryError(this.component, err);
    }
  }

  enabled(options: Parameters<NonNullable<LogRecordProcessor['enabled']>>[0]): boolean {
    try {
      return this.inner.enabled === undefined ? true : this.inner.enabled(options);
    } catch (err) {
      reportTelemetryError(this.component, err);
      return false;
    }
  }

  forceFlush(): Promise<void> {
    return settle(this.component, () => this.inner.forceFlush());
  }

  shutdown(): Promise<void> {
    return settle(this.component, () => this.inner.shutdown());
  }
}

/** Calls `inner.export`, turning a synchronous throw into a FAILED result. */
function safeExport<T>(
  component: string,
  exportFn: (items: T, cb: (r: ExportResult) => void) => void,
  items: T,
  resultCallback: (result: ExportResult) => void,
): void {
  let called = false;
  const once = (result: ExportResult): void => {
    if (called) return;
    called = true;
    if (result.code !== ExportResultCode.SUCCESS)
      reportTelemetryError(component, result.error, result.error ? undefined : 'export_failed');
    resultCallback(result);
  };
  try {
    untraced(() => exportFn(items, once));
  } catch (err) {
    once({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
  }
}

export class SafeSpanExporter implements SpanExporter {
  private readonly inner: SpanExporter;
  private readonly component: string;
  private readonly waitMs: number | undefined;

  /** `waitMs`: the longest forceFlush and shutdown wait for exports in flight (bounded-wait.ts). */
  constructor(options: { exporter: SpanExporter; component?: string; waitMs?: number }) {
    this.inner = options.exporter;
    this.component = options.component ?? 'span_exporter';
    this.waitMs = options.waitMs;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    safeExport(this.component, (s, cb) => this.inner.export(s, cb), spans, resultCallback);
  }

  forceFlush(): Promise<void> {
    return settle(this.component, () => boundedWait(this.inner.forceFlush?.(), this.waitMs));
  }

  shutdown(): Promise<void> {
    return settle(this.component, () => boundedWait(this.inner.shutdown(), this.waitMs));
  }
}

export class SafeLogRecordExporter implements LogRecordExporter {
  private readonly inner: LogRecordExporter;
  private readonly component: string;
  private readonly waitMs: number | undefined;

  /** `waitMs`: the longest forceFlush and shutdown wait for exports in flight (bounded-wait.ts). */
  constructor(options: { exporter: LogRecordExporter; component?: string; waitMs?: number }) {
    this.inner = options.exporter;
    this.component = options.component ?? 'log_exporter';
    this.waitMs = options.waitMs;
  }

  export(records: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    safeExport(this.component, (r, cb) => this.inner.export(r, cb), records, resultCallback);
  }

  forceFlush(): Promise<void> {
    return settle(this.component, () => boundedWait(this.inner.forceFlush(), this.waitMs));
  }

  shutdown(): Promise<void> {
    return settle(this.component, () => boundedWait(this.inner.shutdown(), this.waitMs));
  }
}

export class SafeMetricExporter implements PushMetricExporter {
  private readonly inner: PushMetricExporter;
  private readonly component: string;
  private readonly waitMs: number | undefined;

  /** `waitMs`: the longest forceFlush and shutdown wait for exports in flight (bounded-wait.ts). */
  constructor(options: { exporter: PushMetricExporter; component?: string; waitMs?: number }) {
    this.inner = options.exporter;
    this.component = options.component ?? 'metric_exporter';
    this.waitMs = options.waitMs;
    // Temporality and aggregation preferences are the inner exporter's (OTLP reads them from env).
    if (this.inner.selectAggregationTemporality !== undefined) {
      this.selectAggregationTemporality = this.inner.selectAggregationTemporality.bind(this.inner);
    }
    if (this.inner.selectAggregation !== undefined) {
      this.selectAggregation = this.inner.selectAggregation.bind(this.inner);
    }
  }

  selectAggregationTemporality?: PushMetricExporter['selectAggregationTemporality'];
  selectAggregation?: PushMetricExporter['selectAggregation'];

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    safeExport(
      this.component,
      (m, cb) => this.inner.export(mergeRepeatedScopes(m), cb),
      metrics,
      resultCallback,
    );
  }

  forceFlush(): Promise<void> {
    return settle(this.component, () => boundedWait(this.inner.forceFlush(), this.waitMs));
  }

  shutdown(): Promise<void> {
    return settle(this.component, () => boundedWait(this.inner.shutdown(), this.waitMs));
  }
}
