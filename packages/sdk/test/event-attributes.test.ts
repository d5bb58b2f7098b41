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
    const minimal: SecurityEvent = {
      event_id: 'EVT-1',
      timestamp: full.timestamp,
      category: 'auth_failure',
      severity: 'info',
      user_id: 'anonymous',
    };
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

describe('eventAttributes metadata keys (for…in with an own check, against Object.keys)', () => {
  /** The previous loop, over Object.keys: the reference. */
  function withObjectKeys(e: SecurityEvent): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(eventAttributes({ ...e, metadata: undefined }))) out[k] = v;
    if (e.metadata !== undefined)
      for (const key of Object.keys(e.metadata)) out[`llmsec.metadata.${key}`] = e.metadata[key];
    return out;
  }

  it('gives the same attributes, in the same order, for random metadata (integer-like keys, odd names, any count)', () => {
    let seed = 12345;
    const next = (n: number): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    const names = [
      'a',
      'b',
      '10',
      '2',
      '0',
      'constructor',
      'toString',
      'hasOwnProperty',
      'llmsec',
      'x.y',
      '',
      'é',
      'guardrail_layer',
    ];
    for (let i = 0; i < 500; i++) {
      const metadata: Record<string, string | number | boolean | string[]> = {};
      const count = next(12);
      for (let k = 0; k < count; k++) {
        const key = next(3) === 0 ? `k${next(40)}` : names[next(names.length)]!;
        const kind = next(4);
        metadata[key] = kind === 0 ? `v${k}` : kind === 1 ? k : kind === 2 ? k % 2 === 0 : [`s${k}`];
      }
      const e = { ...full, metadata };
      const got = eventAttributes(e);
      const want = withObjectKeys(e);
      expect(got).toEqual(want);
      expect(Object.keys(got)).toEqual(Object.keys(want));
      expect(got).toEqual(eventToAttributes(e));
    }
  });

  it('ignores enumerable properties on the prototype chain (a polluted Object.prototype, a metadata object with a prototype)', () => {
    Object.defineProperty(Object.prototype, 'polluted', {
      value: 'x',
      enumerable: true,
      configurable: true,
      writable: true,
    });
    try {
      const e = { ...full, metadata: { guardrail_layer: 'injection' } };
      expect(Object.keys(eventAttributes(e))).not.toContain('llmsec.metadata.polluted');
      expect(eventAttributes(e)).toEqual(withObjectKeys(e));
    } finally {
      delete (Object.prototype as Record<string, unknown>).polluted;
    }
    const inherited = Object.assign(Object.create({ inherited: 'no' }) as Record<string, string>, {
      own: 'yes',
    });
    const e = { ...full, metadata: inherited };
    expect(eventAttributes(e)['llmsec.metadata.own']).toBe('yes');
    expect(Object.keys(eventAttributes(e))).not.toContain('llmsec.metadata.inherited');
  });
});
