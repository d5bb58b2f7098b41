// Decoded llmsec records and span events back to SecurityEvents: which records qualify, ids from
// the carrier, service from the resource, and metadata values outside core's model left out.
import { encodeEvent, eventToAttributes, type SecurityEvent } from '@llmsec/core';
import { describe, expect, it } from 'vitest';
import { isLlmsecEventName, logRecordToEvent, spanEventToEvent } from '../src/otlp/to-event.ts';
import type { Attributes, DecodedLogRecord, DecodedSpan } from '../src/otlp/types.ts';

const event: SecurityEvent = {
  event_id: 'EVT-0123456789ab',
  timestamp: '2026-11-22T10:00:00.000Z',
  category: 'rate_limit_hit',
  severity: 'warning',
  user_id: 'u1',
  session_id: 's1',
  metadata: { limit_type: 'rpm', current: 61, limit: 60 },
};

function record(
  eventName: string,
  attributes: Attributes,
  extra: Partial<DecodedLogRecord> = {},
): DecodedLogRecord {
  return {
    timeMs: 0,
    eventName,
    severityNumber: 13,
    body: null,
    attributes,
    traceId: '',
    spanId: '',
    resource: {},
    scope: '',
    ...extra,
  };
}

const attrs = eventToAttributes(event) as Attributes;

describe('logRecordToEvent / spanEventToEvent', () => {
  it('rebuilds the event with the carrier ids and the resource service name', () => {
    const r = record('llmsec.rate_limit_hit', attrs, {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      resource: { 'service.name': 'billing' },
    });
    expect(logRecordToEvent(r)).toEqual({
      ...event,
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      span_id: 'b7ad6b7169203331',
      service: 'billing',
    });
    // A service written on the event wins over the resource's.
    const own = record(
      'llmsec.rate_limit_hit',
      { ...attrs, 'service.name': 'api' },
      { resource: { 'service.name': 'billing' } },
    );
    expect(logRecordToEvent(own)?.service).toBe('api');
  });

  it('carries the gen_ai.conversation.id attribute as conversation_id (written in the JSONL line), and none without it', () => {
    const withConversation = record('llmsec.rate_limit_hit', {
      ...attrs,
      'gen_ai.conversation.id': 'conv-9',
    });
    const decoded = logRecordToEvent(withConversation)!;
    expect(decoded.conversation_id).toBe('conv-9');
    expect(JSON.parse(encodeEvent(decoded))).toMatchObject({ session_id: 's1', conversation_id: 'conv-9' });
    expect(logRecordToEvent(record('llmsec.rate_limit_hit', attrs))).not.toHaveProperty('conversation_id');
    // A span event too (the SDK records on the active span).
    const span = { traceId: 't'.repeat(32), spanId: 's'.repeat(16), resource: {} } as unknown as DecodedSpan;
    expect(
      spanEventToEvent(
        { name: 'llmsec.rate_limit_hit', timeMs: 0, attributes: withConversation.attributes },
        span,
      )?.conversation_id,
    ).toBe('conv-9');
  });

  it('takes llmsec.<category> records and unnamed ones with an llmsec event id; not alerts, not others, not incomplete ones', () => {
    expect(isLlmsecEventName('llmsec.guardrail_block', {})).toBe(true);
    expect(isLlmsecEventName('llmsec.alert', attrs)).toBe(false);
    expect(isLlmsecEventName('app.audit', attrs)).toBe(false);
    expect(isLlmsecEventName('', attrs)).toBe(true);
    expect(isLlmsecEventName('', {})).toBe(false);
    expect(logRecordToEvent(record('', attrs))?.event_id).toBe(event.event_id);
    expect(logRecordToEvent(record('llmsec.alert', attrs))).toBeUndefined();
    const { ['llmsec.event.severity']: _severity, ...incomplete } = attrs;
    expect(logRecordToEvent(record('llmsec.rate_limit_hit', incomplete))).toBeUndefined();
  });

  it('leaves out metadata values core cannot hold (bytes, maps, null, mixed arrays) and keeps the rest', () => {
    const r = record('llmsec.rate_limit_hit', {
      ...attrs,
      'llmsec.metadata.blob': Uint8Array.of(1),
      'llmsec.metadata.map': { a: 1 },
      'llmsec.metadata.nothing': null,
      'llmsec.metadata.mixed': [1, 'a'],
      'llmsec.metadata.list': ['a', 'b'],
      'llmsec.metadata.big': '9223372036854775807',
    });
    expect(logRecordToEvent(r)?.metadata).toEqual({
      ...event.metadata,
      list: ['a', 'b'],
      big: '9223372036854775807',
    });
    // The decoded record itself is not modified.
    expect(r.attributes['llmsec.metadata.blob']).toEqual(Uint8Array.of(1));
  });

  it('span events take the span ids and resource', () => {
    const span: DecodedSpan = {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      parentSpanId: '',
      name: 'chat',
      kind: 3,
      startMs: 0,
      endMs: 1,
      attributes: {},
      events: [
        { timeMs: 0, name: 'llmsec.rate_limit_hit', attributes: attrs },
        { timeMs: 0, name: 'exception', attributes: {} },
      ],
      status: { code: 0, message: '' },
      resource: { 'service.name': 'chat-api' },
      scope: 'x',
    };
    expect(spanEventToEvent(span.events[0]!, span)).toEqual({
      ...event,
      trace_id: span.traceId,
      span_id: span.spanId,
      service: 'chat-api',
    });
    expect(spanEventToEvent(span.events[1]!, span)).toBeUndefined();
  });
});
