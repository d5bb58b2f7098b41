import { describe, expect, it } from 'vitest';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_EVENT_CORRELATED,
  ATTR_EVENT_CATEGORY,
  ATTR_EVENT_ID,
  ATTR_EVENT_SEVERITY,
  ATTR_EVENT_TIMESTAMP,
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_METADATA_PREFIX,
  ATTR_SESSION_ID,
  ATTR_USER_ID,
  attributesToEvent,
  decodeEventLine,
  eventToAttributes,
  type SecurityEvent,
} from '@llmsec/core';
import { metadataKey, metadataKeyCacheSize } from '../src/metadata-keys.ts';

const EVENT: SecurityEvent = {
  event_id: 'EVT-00000000000a',
  timestamp: '2026-11-22T10:00:00.500Z',
  category: 'request_completed',
  severity: 'info',
  user_id: 'u1',
  session_id: 's1',
  conversation_id: 'conv-1',
  source_ip: '198.51.100.4',
  service: 'chat-api',
  description: 'done',
  request_preview: 'hello',
  response_preview: 'hi',
  correlated_events: ['EVT-1', 'EVT-2'],
  metadata: {
    model: 'gpt-4o-mini',
    prompt_tokens: 12,
    completion_tokens: 30,
    latency_ms: 812.5,
    cost_usd: 0.0004,
    prompt_length: 5,
    blocked: false,
    tags: ['a', 'b'],
  },
};

const IDS = { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_id: '00f067aa0ba902b7' };

describe('eventToAttributes', () => {
  it('uses the semantic-convention names where they exist and llmsec.* otherwise', () => {
    const attrs = eventToAttributes(EVENT);
    expect(attrs[ATTR_USER_ID]).toBe('u1');
    expect(attrs[ATTR_SESSION_ID]).toBe('s1');
    expect(attrs[ATTR_GEN_AI_CONVERSATION_ID]).toBe('conv-1');
    expect(attrs[ATTR_CLIENT_ADDRESS]).toBe('198.51.100.4');
    expect(attrs[ATTR_EVENT_ID]).toBe('EVT-00000000000a');
    expect(attrs[ATTR_EVENT_CATEGORY]).toBe('request_completed');
    expect(attrs[ATTR_EVENT_SEVERITY]).toBe('info');
    expect(attrs[ATTR_EVENT_TIMESTAMP]).toBe('2026-11-22T10:00:00.500Z');
    expect(attrs[ATTR_METADATA_PREFIX + 'prompt_tokens']).toBe(12);
    expect(attrs[ATTR_METADATA_PREFIX + 'tags']).toEqual(['a', 'b']);
    expect(attrs['user.id']).toBe('u1');
    expect(attrs['llmsec.metadata.blocked']).toBe(false);
  });

  it('writes no attribute for an absent field, and no trace or span id', () => {
    const attrs = eventToAttributes({ ...EVENT, session_id: undefined, metadata: undefined, ...IDS });
    expect(Object.keys(attrs)).not.toContain(ATTR_SESSION_ID);
    expect(Object.keys(attrs).some((k) => k.startsWith(ATTR_METADATA_PREFIX))).toBe(false);
    expect(Object.values(attrs)).not.toContain(IDS.trace_id);
    expect(Object.values(attrs)).not.toContain(IDS.span_id);
  });
});

describe('attributesToEvent', () => {
  it('round-trips an event, ids from the carrier', () => {
    const full = { ...EVENT, ...IDS };
    expect(attributesToEvent(eventToAttributes(full), IDS)).toEqual(full);
    expect(attributesToEvent(eventToAttributes(EVENT))).toEqual(EVENT);
  });

  it('round-trips a minimal event', () => {
    const minimal: SecurityEvent = {
      event_id: 'EVT-1',
      timestamp: '2026-11-22T10:00:00Z',
      category: 'auth_failure',
      severity: 'warning',
      user_id: 'anonymous',
    };
    expect(attributesToEvent(eventToAttributes(minimal))).toEqual(minimal);
  });

  it('returns undefined for attributes that are not a complete llmsec event', () => {
    const attrs = eventToAttributes(EVENT);
    expect(attributesToEvent(undefined)).toBeUndefined();
    expect(attributesToEvent({})).toBeUndefined();
    for (const key of [
      ATTR_EVENT_ID,
      ATTR_EVENT_CATEGORY,
      ATTR_EVENT_SEVERITY,
      ATTR_EVENT_TIMESTAMP,
      ATTR_USER_ID,
    ]) {
      const copy: Record<string, unknown> = { ...attrs };
      delete copy[key];
      expect(attributesToEvent(copy), key).toBeUndefined();
    }
    expect(attributesToEvent({ ...attrs, [ATTR_EVENT_SEVERITY]: 'fatal' })).toBeUndefined();
    expect(attributesToEvent({ ...attrs, [ATTR_USER_ID]: true })).toBeUndefined();
    // Empty, as core's JSONL reader refuses it (field "user_id" is empty).
    expect(attributesToEvent({ ...attrs, [ATTR_USER_ID]: '' })).toBeUndefined();
    expect(attributesToEvent({ ...attrs, [ATTR_EVENT_ID]: '' })).toBeUndefined();
  });

  it("reads an id given as a number as its decimal text, as core's JSONL reader does", () => {
    const attrs = { ...eventToAttributes(EVENT), [ATTR_USER_ID]: 429, [ATTR_SESSION_ID]: 12.5 };
    const event = attributesToEvent(attrs)!;
    expect(event.user_id).toBe('429');
    expect(event.session_id).toBe('12.5');
    const line = decodeEventLine(JSON.stringify({ ...EVENT, user_id: 429, session_id: 12.5 })).event;
    expect(event.user_id).toBe(line.user_id);
    expect(event.session_id).toBe(line.session_id);
  });

  it("makes no event of an optional string attribute of another kind, as core's JSONL reader refuses the line", () => {
    for (const value of [true, ['a'], { a: 1 }, new Uint8Array([1])]) {
      expect(attributesToEvent({ ...eventToAttributes(EVENT), [ATTR_SESSION_ID]: value })).toBeUndefined();
      expect(() =>
        decodeEventLine(JSON.stringify({ ...EVENT, session_id: value instanceof Uint8Array ? [1] : value })),
      ).toThrow(/must be a string/);
    }
    // null is absent on both.
    expect(attributesToEvent({ ...eventToAttributes(EVENT), [ATTR_SESSION_ID]: null })).not.toHaveProperty(
      'session_id',
    );
  });

  it('makes no event of correlated_events with an entry that is no id, as the JSONL reader refuses the line', () => {
    const attrs = eventToAttributes(EVENT);
    for (const entry of [null, { a: 1 }, true, ['EVT-1']]) {
      const list = ['EVT-1', entry] as unknown as string[];
      expect(attributesToEvent({ ...attrs, [ATTR_EVENT_CORRELATED]: list })).toBeUndefined();
      expect(() => decodeEventLine(JSON.stringify({ ...EVENT, correlated_events: list }))).toThrow(
        'field "correlated_events" must be an array of strings',
      );
    }
    const withNumber = attributesToEvent({ ...attrs, [ATTR_EVENT_CORRELATED]: ['EVT-1', 7] });
    expect(withNumber?.correlated_events).toEqual(['EVT-1', '7']);
  });

  it('keeps `llmsec.metadata.__proto__` as data, not as the metadata prototype', () => {
    const attrs = { ...eventToAttributes(EVENT), [`${ATTR_METADATA_PREFIX}__proto__`]: ['a', 'b'] };
    const event = attributesToEvent(attrs);
    expect(Object.getPrototypeOf(event!.metadata)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(event!.metadata, '__proto__')?.value).toEqual(['a', 'b']);
    expect(event!.metadata!.model).toBe(EVENT.metadata!.model);
  });

  it('reads optional fields and metadata whatever the attribute order', () => {
    const attrs = eventToAttributes({ ...EVENT });
    const reversed = Object.fromEntries(Object.entries(attrs).reverse());
    expect(attributesToEvent(reversed)).toEqual(EVENT);
  });
});

describe('metadataKey', () => {
  it('returns one instance per attribute name, within a bounded cache', () => {
    const a = metadataKey(`${ATTR_METADATA_PREFIX}tokens`);
    expect(a).toBe('tokens');
    expect(metadataKey(`${ATTR_METADATA_PREFIX}tokens`)).toBe(a);
    expect(metadataKey(ATTR_USER_ID)).toBeUndefined();
    expect(metadataKey(ATTR_USER_ID)).toBeUndefined(); // the cached answer
    expect(metadataKey('llmsec.metadata')).toBeUndefined();
    expect(metadataKey(ATTR_METADATA_PREFIX)).toBe('');
    for (let i = 0; i < 10_000; i++) expect(metadataKey(`${ATTR_METADATA_PREFIX}k${i}`)).toBe(`k${i}`);
    expect(metadataKeyCacheSize()).toBeLessThanOrEqual(2048);
    const long = `${ATTR_METADATA_PREFIX}${'x'.repeat(500)}`;
    expect(metadataKey(long)).toBe('x'.repeat(500));
  });
});
