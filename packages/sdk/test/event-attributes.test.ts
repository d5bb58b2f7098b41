import { describe, expect, it } from 'vitest';
import { eventToAttributes, type SecurityEvent } from '@llmsec/core';
import { eventAttributes } from '../src/event-attributes.ts';

const full: SecurityEvent = {
  event_id: 'EVT-000000000001',
  timestamp: '2026-11-22T10:00:00.000Z',
  category: 'guardrail_block',
  severity: 'warning',
  user_id: 'user-1',
  session_id: 'session-1',
  conversation_id: 'conv-1',
  trace_id: '0af7651916cd43dd8448eb211c80319c',
  span_id: 'b7ad6b7169203331',
  source_ip: '203.0.113.7',
  service: 'chat-api',
  description: 'blocked',
  request_preview: 'hello',
  response_preview: 'world',
  correlated_events: ['EVT-000000000000'],
  metadata: { guardrail_layer: 'injection', block_reason: 'r', prompt_length: 5, flags: [true, false] },
};

describe('eventAttributes (the SDK hot-path codec)', () => {
  it('equals core eventToAttributes, keys in the same order, for a full and a minimal event', () => {
    const minimal: SecurityEvent = { event_id: 'EVT-1', timestamp: full.timestamp, category: 'auth_failure', severity: 'info', user_id: 'anonymous' };
    for (const e of [full, minimal, { ...full, metadata: {} }]) {
      expect(eventAttributes(e)).toEqual(eventToAttributes(e));
      expect(Object.keys(eventAttributes(e))).toEqual(Object.keys(eventToAttributes(e)));
    }
  });

  it('keeps equal to core past the metadata-name cache bound', () => {
    const metadata: Record<string, number> = {};
    for (let i = 0; i < 600; i++) metadata[`k${i}`] = i;
    for (let round = 0; round < 2; round++) {
      const e = { ...full, metadata };
      expect(eventAttributes(e)).toEqual(eventToAttributes(e));
    }
  });
});
