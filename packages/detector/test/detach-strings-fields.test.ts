// detach-strings.ts's STRING_FIELDS (the event fields detachCutStrings copies and eventBytes
// counts) was a copy of core's EVENT_FIELDS without metadata and correlated_events: a string
// field core added would have stayed a slice of its parent in the ingest queue and been left out
// of the queue's byte bound. It is derived now; this checks it against an event holding every
// field core knows, as core decodes it.
import { describe, expect, it } from 'vitest';
import { decodeEvent, EVENT_FIELDS } from '@llmsec/core';
import { detachCutStrings, STRING_FIELDS } from '../src/otlp/detach-strings.ts';
import { eventBytes } from '../src/service/event-bytes.ts';

const full = {
  event_id: 'evt-1',
  timestamp: '2026-12-05T16:00:00.000Z',
  category: 'guardrail_block',
  severity: 'warning',
  user_id: 'u1',
  session_id: 's1',
  conversation_id: 'c1',
  trace_id: '0af7651916cd43dd8448eb211c80319c',
  span_id: 'b7ad6b7169203331',
  source_ip: '203.0.113.9',
  service: 'chat-api',
  description: 'blocked',
  request_preview: 'hello',
  response_preview: 'no',
  metadata: { rule: 'x', n: 1 },
  correlated_events: ['evt-0'],
};

describe('STRING_FIELDS', () => {
  it('are the fields of a full event that hold strings, in events.md order', () => {
    // The fixture holds every field core lists, so a field core adds fails here until it is added.
    expect(Object.keys(full).sort()).toEqual([...EVENT_FIELDS].sort());
    const event = decodeEvent(full).event as unknown as Record<string, unknown>;
    expect(STRING_FIELDS).toEqual(EVENT_FIELDS.filter((f) => typeof event[f] === 'string'));
    expect(STRING_FIELDS).not.toContain('metadata');
    expect(STRING_FIELDS).toHaveLength(EVENT_FIELDS.length - 2);
  });

  it('are each detached unchanged and counted by the queue byte estimate', () => {
    const { event } = decodeEvent(full);
    const fields = event as unknown as Record<string, unknown>;
    const before = eventBytes(event);
    for (const field of STRING_FIELDS) {
      const long = `${String(fields[field])}${'x'.repeat(1_000)}`;
      const copy = decodeEvent(full).event as unknown as Record<string, unknown>;
      copy[field] = long.slice(0, 999); // a slice, as capEventFields cuts
      const bytes = eventBytes(copy as never);
      expect(bytes - before, field).toBe(2 * (999 - String(fields[field]).length));
      detachCutStrings(copy as never);
      expect(copy[field], field).toBe(long.slice(0, 999));
    }
  });
});
