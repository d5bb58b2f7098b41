// The ids of OTLP-decoded events are group keys (rules group by user_id, and may by session_id
// or conversation_id) and are held per group: the SDK cuts them at 256 characters (MAX_ID_CHARS),
// but a record from another sender could carry ids of megabytes, up to the body limit, held by
// each of up to maxGroupsPerRule groups per rule. The detector cuts them as the SDK does.
import { eventToAttributes, type SecurityEvent } from '@llmsec/core';
import { describe, expect, it } from 'vitest';
import type { Attributes, DecodedLogRecord, DecodedSpan } from '../src/otlp/types.ts';
import { DEFAULT_SESSION_ATTRIBUTES, DEFAULT_USER_ATTRIBUTES } from '../src/service/genai-attributes.ts';
import { logRecordToEvent, MAX_ID_CHARS, newBatch, spanToEvents } from '../src/service/record-events.ts';
import { droppedValues } from '../src/otlp/dropped-values.ts';

const long = (c: string) => c.repeat(1 << 20);

const event: SecurityEvent = {
  event_id: 'EVT-0123456789ab',
  timestamp: '2026-11-22T10:00:00.000Z',
  category: 'rate_limit_hit',
  severity: 'warning',
  user_id: long('u'),
  session_id: long('s'),
  conversation_id: long('c'),
  metadata: { limit_type: 'rpm', current: 61, limit: 60 },
};

function span(attributes: Attributes, events: DecodedSpan['events'] = []): DecodedSpan {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    parentSpanId: '',
    name: 'chat gpt-4o',
    kind: 3,
    startMs: Date.UTC(2026, 11, 4, 10, 0, 0),
    endMs: Date.UTC(2026, 11, 4, 10, 0, 1),
    attributes,
    events,
    status: { code: 0, message: '' },
    resource: { 'service.name': 'py-chat' },
    scope: 'opentelemetry.instrumentation.openai',
  } as DecodedSpan;
}

const cut = { user_id: 'u'.repeat(256), session_id: 's'.repeat(256), conversation_id: 'c'.repeat(256) };

describe('ids of OTLP-decoded events', () => {
  it('are cut at 256 characters, as the SDK cuts them: llmsec log records, span events, GenAI spans', () => {
    expect(MAX_ID_CHARS).toBe(256);
    const attrs = eventToAttributes(event) as Attributes;
    const logs = newBatch();
    const record: DecodedLogRecord = {
      timeMs: 0,
      eventName: 'llmsec.rate_limit_hit',
      severityNumber: 13,
      body: null,
      attributes: attrs,
      traceId: '',
      spanId: '',
      resource: {},
      scope: '',
    } as DecodedLogRecord;
    expect(logRecordToEvent(record, logs)).toBeUndefined();
    expect(logs.events[0]).toMatchObject(cut);

    const spans = newBatch();
    const genAi = { userAttributes: DEFAULT_USER_ATTRIBUTES, sessionAttributes: DEFAULT_SESSION_ATTRIBUTES };
    spanToEvents(span({}, [{ name: 'llmsec.rate_limit_hit', timeMs: 0, attributes: attrs }]), genAi, spans);
    spanToEvents(
      span({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'user.id': long('u'),
        'session.id': long('s'),
        'gen_ai.conversation.id': long('c'),
      }),
      genAi,
      spans,
    );
    expect(spans.events).toHaveLength(2);
    for (const e of spans.events) expect(e).toMatchObject(cut);
  });

  it('never cut inside a surrogate pair: an emoji across the 256th unit goes whole (255 units kept)', () => {
    const emojiAt = (c: string) => c.repeat(255) + '😈' + c.repeat(10); // the pair at units 255-256
    const attrs = eventToAttributes({
      ...event,
      user_id: emojiAt('u'),
      session_id: emojiAt('s'),
      conversation_id: 'c'.repeat(254) + '😈x', // the pair at 254-255: fits, kept whole
    }) as Attributes;
    const out = newBatch();
    spanToEvents(
      span({}, [{ name: 'llmsec.rate_limit_hit', timeMs: 0, attributes: attrs }]),
      { userAttributes: DEFAULT_USER_ATTRIBUTES, sessionAttributes: DEFAULT_SESSION_ATTRIBUTES },
      out,
    );
    const e = out.events[0]!;
    expect(e.user_id).toBe('u'.repeat(255));
    expect(e.session_id).toBe('s'.repeat(255));
    expect(e.conversation_id).toBe('c'.repeat(254) + '😈');
    expect(JSON.stringify(e)).not.toMatch(/\\ud8/i);
  });

  it('leaves ids of 256 characters or fewer as they are', () => {
    const attrs = eventToAttributes({ ...event, ...cut, session_id: 'short' }) as Attributes;
    const out = newBatch();
    spanToEvents(
      span({}, [{ name: 'llmsec.rate_limit_hit', timeMs: 0, attributes: attrs }]),
      { userAttributes: DEFAULT_USER_ATTRIBUTES, sessionAttributes: DEFAULT_SESSION_ATTRIBUTES },
      out,
    );
    expect(out.events[0]).toMatchObject({ ...cut, session_id: 'short' });
  });

  it('every other string a rule may group by is cut to core caps too, counted with the dropped values', () => {
    // source_ip and metadata (payload_fingerprint: coordinated_campaign groups by it) were kept
    // whole, up to maxStringBytes: a key in every group table and in Redis.
    const attrs = eventToAttributes({
      ...event,
      ...cut,
      category: 'guardrail_block',
      source_ip: long('1'),
      metadata: { guardrail_layer: 'x', payload_fingerprint: long('f'), tenant: long('t') },
    }) as Attributes;
    const out = newBatch();
    const before = droppedValues.count;
    spanToEvents(
      span({}, [{ name: 'llmsec.guardrail_block', timeMs: 0, attributes: attrs }]),
      { userAttributes: DEFAULT_USER_ATTRIBUTES, sessionAttributes: DEFAULT_SESSION_ATTRIBUTES },
      out,
    );
    expect(out.events[0]).toMatchObject({
      source_ip: '1'.repeat(64),
      metadata: { guardrail_layer: 'x', payload_fingerprint: 'f'.repeat(1024), tenant: 't'.repeat(1024) },
    });
    expect(droppedValues.count - before).toBe(3);
  });
});
