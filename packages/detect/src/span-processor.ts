import { metrics, type Attributes, type Context, type HrTime, type SpanContext } from '@opentelemetry/api';
import { ALERT_EVENT_NAME, EVENT_NAME_PREFIX, attributesToEvent } from '@llmsec/core';
import type { DetectionEngine } from './engine.ts';
import { ErrorFunnel } from './errors.ts';

/** The parts of a finished span the processor reads (structurally an sdk-trace ReadableSpan). */
export interface SpanLike {
  spanContext(): SpanContext;
  readonly events: ReadonlyArray<{ name: string; attributes?: Attributes; time: HrTime }>;
}

export interface DetectionSpanProcessorOptions {
  engine: DetectionEngine;
}

/**
 * Feeds the `llmsec.*` span events of every ending span to the detection engine. A
 * SpanProcessor for `new TracerProvider({ spanProcessors })` / NodeSDK. Span.end() calls
 * processors without a try/catch, so nothing here may throw: failures go to the error funnel.
 * Span events arrive when their span ends, which can be long after they happened: give the
 * engine an allowed lateness at least as long as your longest span, or install the log
 * record processor too (it sees each event when emitted; duplicates are dropped by id).
 */
export class DetectionSpanProcessor {
  private readonly engine: DetectionEngine;
  private readonly errors = new ErrorFunnel(metrics.getMeter('@llmsec/detect'), 'detect.span_processor');
  private stopped = false;

  constructor(options: DetectionSpanProcessorOptions) {
    if (!options?.engine) throw new Error('DetectionSpanProcessor: options.engine is required');
    this.engine = options.engine;
  }

  onStart(_span: unknown, _parentContext: Context): void {}

  onEnd(span: SpanLike): void {
    if (this.stopped) return;
    try {
      const events = span.events;
      if (events.length === 0) return;
      let ids: { trace_id: string; span_id: string } | undefined;
      for (const ev of events) {
        if (!ev.name.startsWith(EVENT_NAME_PREFIX) || ev.name === ALERT_EVENT_NAME) continue;
        if (ids === undefined) {
          const sc = span.spanContext();
          ids = { trace_id: sc.traceId, span_id: sc.spanId };
        }
        const event = attributesToEvent(ev.attributes, ids);
        if (event !== undefined) this.engine.ingestOnce(event);
      }
    } catch (err) {
      this.errors.report('onEnd', err);
    }
  }

  forceFlush(): Promise<void> {
    return this.engine.forceFlush();
  }

  shutdown(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.stopped = true;
    return Promise.resolve();
  }
}
