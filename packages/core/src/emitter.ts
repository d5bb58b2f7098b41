import type { Span } from '@opentelemetry/api';
import type { Category, CategoryMetadata, Metadata, SecurityEvent, Severity } from './model.ts';

/**
 * What every caller passes when it records a security event. The SDK implements
 * SecurityEventEmitter; the detection, rate-limit and instrumentation code depend only on this
 * interface, so packages stay layered (core at the bottom).
 */
export interface EventInput {
  /** Explicit ids win over the active security context (OTel context / W3C baggage). */
  userId?: string;
  sessionId?: string;
  conversationId?: string;
  sourceIp?: string;
  /** Overrides the category's default severity. */
  severity?: Severity;
  description?: string;
  /**
   * Raw prompt / response text. Never recorded unless the operator opted in to previews; then
   * redacted and truncated. Its length and payload fingerprint are recorded either way.
   */
  requestText?: string;
  responseText?: string;
  correlatedEvents?: string[];
  /** Event time in epoch ms; default: the emitter's clock. */
  timeMs?: number;
  /** Span to attach the span event to; default: the active span. */
  span?: Span;
}

export type EventInputFor<C extends Category> = EventInput & {
  metadata: CategoryMetadata[C] & Metadata;
};

export interface SecurityEventEmitter {
  /** Records one event (span event, log record, metrics, optional JSONL) and returns it. Never throws. */
  emit<C extends Category>(category: C, input: EventInputFor<C>): SecurityEvent;
}
