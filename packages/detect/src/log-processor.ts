import {
  isSpanContextValid,
  metrics,
  type Attributes,
  type Context,
  type SpanContext,
} from '@opentelemetry/api';
import { ALERT_EVENT_NAME, ATTR_EVENT_ID, EVENT_NAME_PREFIX, attributesToEvent } from '@llmsec/core';
import type { DetectionEngine } from './engine.ts';
import { ErrorFunnel } from './errors.ts';

/** The parts of a log record the processor reads (structurally an sdk-logs ReadWriteLogRecord). */
export interface LogRecordLike {
  readonly eventName?: string;
  readonly attributes: Attributes;
  readonly spanContext?: SpanContext;
}

export interface DetectionLogRecordProcessorOptions {
  engine: DetectionEngine;
}

/**
 * Feeds `llmsec.*` log records (security events as the SDK emits them, or as they arrive from
 * elsewhere through a logs pipeline) to the detection engine, as they are emitted. A
 * LogRecordProcessor for `new LoggerProvider({ processors })` / NodeSDK; never throws.
 */
export class DetectionLogRecordProcessor {
  private readonly engine: DetectionEngine;
  private readonly errors = new ErrorFunnel(metrics.getMeter('@llmsec/detect'), 'detect.log_processor');
  private stopped = false;

  constructor(options: DetectionLogRecordProcessorOptions) {
    if (!options?.engine) throw new Error('DetectionLogRecordProcessor: options.engine is required');
    this.engine = options.engine;
  }

  onEmit(record: LogRecordLike, _context?: Context): void {
    if (this.stopped) return;
    try {
      const name = record.eventName;
      if (name !== undefined) {
        if (!name.startsWith(EVENT_NAME_PREFIX) || name === ALERT_EVENT_NAME) return;
      } else if (record.attributes?.[ATTR_EVENT_ID] === undefined) {
        return;
      }
      const sc = record.spanContext;
      const event = attributesToEvent(
        record.attributes,
        sc && isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {},
      );
      if (event !== undefined) this.engine.ingestOnce(event);
    } catch (err) {
      this.errors.report('onEmit', err);
    }
  }

  forceFlush(): Promise<void> {
    return this.engine.forceFlush();
  }

  shutdown(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }
}
