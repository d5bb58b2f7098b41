// capEventFields: the one cut every event path ends with (core's JSONL reader here; replay's
// fast reader and the detector's OTLP records call the same function). Any field can be a
// rule's group key or distinct value, so each string field has a cap, equal to what the SDK
// writes, and nothing else of the event is lost.
import { describe, expect, it } from 'vitest';
import { decodeEvent, type SecurityEvent } from '../src/index.ts';
import { capEventFields, EVENT_FIELD_CAPS } from '../src/internal.ts';

const MB = 1 << 20;
const base = {
  event_id: 'EVT-1',
  timestamp: '2026-11-22T10:00:00.000Z',
  category: 'guardrail_block',
  severity: 'warning',
  user_id: 'mallory',
};

describe('event field caps (decodeEvent)', () => {
  it('cuts each over-long string field to its cap and keeps the event and its other fields', () => {
    const { event } = decodeEvent({
      ...base,
      event_id: 'e'.repeat(MB),
      category: 'c'.repeat(MB),
      user_id: 'u'.repeat(MB),
      session_id: 's'.repeat(MB),
      conversation_id: 'v'.repeat(MB),
      source_ip: '1'.repeat(MB),
      service: 'n'.repeat(MB),
      description: 'd'.repeat(MB),
      request_preview: 'q'.repeat(MB),
      response_preview: 'r'.repeat(MB),
      metadata: {
        payload_fingerprint: 'f'.repeat(MB),
        tenant: 't'.repeat(MB),
        tags: ['short', 'x'.repeat(MB)],
        prompt_length: 12,
        blocked: true,
      },
      correlated_events: ['EVT-0'],
    });
    const C = EVENT_FIELD_CAPS;
    expect(event).toEqual({
      event_id: 'e'.repeat(C.id),
      timestamp: base.timestamp,
      category: 'c'.repeat(C.id),
      severity: 'warning',
      user_id: 'u'.repeat(C.id),
      session_id: 's'.repeat(C.id),
      conversation_id: 'v'.repeat(C.id),
      source_ip: '1'.repeat(C.sourceIp),
      service: 'n'.repeat(C.id),
      description: 'd'.repeat(C.description),
      request_preview: 'q'.repeat(C.preview),
      response_preview: 'r'.repeat(C.preview),
      metadata: {
        payload_fingerprint: 'f'.repeat(C.metadataString),
        tenant: 't'.repeat(C.metadataString),
        tags: ['short', 'x'.repeat(C.metadataString)],
        prompt_length: 12,
        blocked: true,
      },
      correlated_events: ['EVT-0'],
    });
    // The SDK's caps: an address of 64 units, metadata strings and free text of 1,024, previews of 500.
    expect([C.sourceIp, C.metadataString, C.description, C.preview, C.id]).toEqual([
      64, 1024, 1024, 500, 256,
    ]);
  });

  it('two values that differ only past the cap are one key; values that fit are untouched', () => {
    const a = decodeEvent({
      ...base,
      source_ip: `${'a'.repeat(64)}-1`,
      metadata: { k: `${'b'.repeat(1024)}x` },
    });
    const b = decodeEvent({
      ...base,
      source_ip: `${'a'.repeat(64)}-2`,
      metadata: { k: `${'b'.repeat(1024)}y` },
    });
    expect(a.event.source_ip).toBe(b.event.source_ip);
    expect(a.event.metadata).toEqual(b.event.metadata);
    const fits = { ...base, source_ip: '203.0.113.9', metadata: { k: 'b'.repeat(1024) } };
    expect(decodeEvent(fits).event).toMatchObject({
      source_ip: '203.0.113.9',
      metadata: { k: 'b'.repeat(1024) },
    });
  });

  it('never cuts inside a surrogate pair (cutId): an emoji across the cap goes whole', () => {
    const { event } = decodeEvent({
      ...base,
      source_ip: `${'a'.repeat(63)}😈b`, // the pair at units 64-65
      metadata: { payload_fingerprint: `${'f'.repeat(1022)}😈g` }, // the pair at 1023-1024: fits
    });
    expect(event.source_ip).toBe('a'.repeat(63));
    expect(event.metadata!.payload_fingerprint).toBe(`${'f'.repeat(1022)}😈`);
    expect(JSON.stringify(event)).not.toMatch(/\\ud8/i);
  });

  it('returns how many values it cut, and copies metadata before cutting it (it may be shared)', () => {
    const metadata = { fp: 'f'.repeat(2000), list: ['x'.repeat(2000), 'y'.repeat(2000)], n: 1 };
    const event: SecurityEvent = {
      ...base,
      severity: 'warning',
      source_ip: '1'.repeat(100),
      metadata,
    };
    expect(capEventFields(event)).toBe(4);
    expect(metadata.fp).toHaveLength(2000);
    expect(metadata.list[0]).toHaveLength(2000);
    expect(event.metadata).toEqual({
      fp: 'f'.repeat(1024),
      list: ['x'.repeat(1024), 'y'.repeat(1024)],
      n: 1,
    });
    expect(capEventFields(event)).toBe(0);
  });

  it("drops a key inherited from a polluted Object.prototype instead of copying it as the event's", () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.polluted = 'x';
    try {
      const event: SecurityEvent = { ...base, severity: 'warning', metadata: { fp: 'f'.repeat(2000), n: 1 } };
      expect(capEventFields(event)).toBe(2);
      expect(Object.keys(event.metadata!)).toEqual(['fp', 'n']);
      expect(Object.hasOwn(event.metadata!, 'polluted')).toBe(false);
    } finally {
      delete proto.polluted;
    }
  });
});
