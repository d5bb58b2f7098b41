import { eventToAttributes, type SecurityEvent } from '@llmsec/core';
import type { DecodedLogRecord, DecodedSpan } from '../src/otlp/types.ts';
import type { Attributes } from '../src/otlp/types.ts';

export const T0 = Date.UTC(2026, 11, 4, 10, 0, 0);

export function secEvent(over: Partial<SecurityEvent> & { event_id: string }): SecurityEvent {
  return {
    timestamp: new Date(T0).toISOString(),
    category: 'guardrail_block',
    severity: 'warning',
    user_id: 'alice',
    metadata: { guardrail_layer: 'injection', block_reason: 'x' },
    ...over,
  };
}

/** A decoded llmsec log record, as the OTLP receivers hand it over. */
export function logRecord(event: SecurityEvent, over: Partial<DecodedLogRecord> = {}): DecodedLogRecord {
  return {
    timeMs: Date.parse(event.timestamp),
    eventName: `llmsec.${event.category}`,
    severityNumber: 13,
    body: null,
    attributes: eventToAttributes(event) as Attributes,
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    resource: { 'service.name': 'chat-api' },
    scope: '@llmsec/sdk',
    ...over,
  };
}

export function decodedSpan(over: Partial<DecodedSpan> = {}): DecodedSpan {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    parentSpanId: '',
    name: 'chat',
    kind: 3,
    startMs: T0,
    endMs: T0 + 500,
    attributes: {},
    events: [],
    status: { code: 0, message: '' },
    resource: {},
    scope: 'x',
    ...over,
  };
}
