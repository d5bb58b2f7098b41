// Metadata's key count and nesting are capped on every path an event is read by (core's
// capEventFields): core's JSONL reader (decodeEventLine: test-rules, --threads 1 fallback) and
// replay's fast reader here; the detector's OTLP records in its own tests and the differential
// test. A line may nest a value thousands of levels deep or carry a hundred thousand keys.
import { decodeEventLine, EVENT_FIELD_CAPS, type SecurityEvent } from '@llmsec/core/jsonl';
import { describe, expect, it } from 'vitest';
import { decodeEventLineFast } from '../src/event-reader.ts';

const base = {
  event_id: 'EVT-1',
  timestamp: '2026-11-22T10:00:00.000Z',
  category: 'guardrail_block',
  severity: 'warning',
  user_id: 'u1',
};

function line(metadata: unknown): string {
  return JSON.stringify({ ...base, metadata });
}

/** Both readers, which must agree. */
function read(text: string): SecurityEvent {
  const core = decodeEventLine(text).event;
  expect(decodeEventLineFast(text).event).toEqual(core);
  return core;
}

function deep(levels: number): string {
  return `${'['.repeat(levels)}1${']'.repeat(levels)}`;
}

describe('metadata caps', () => {
  it('keeps only the model values: strings, numbers, booleans, arrays of one of them (short line)', () => {
    const text = line({
      a: null,
      b: { x: 1 },
      c: [1, 'a'],
      d: [[1]],
      e: [1, 2],
      f: 'ok',
      g: true,
      h: [],
      i: [{ y: 1 }],
      j: ['x', null],
      k: 0,
    });
    expect(text.length).toBeLessThan(EVENT_FIELD_CAPS.metadataString);
    expect(read(text).metadata).toEqual({ e: [1, 2], f: 'ok', g: true, h: [], k: 0 });
    // The kept keys keep their order.
    expect(Object.keys(read(text).metadata!)).toEqual(['e', 'f', 'g', 'h', 'k']);
  });

  it('drops a value nested 100,000 levels deep without walking it, the event kept', () => {
    const text = `{"event_id":"EVT-1","timestamp":"2026-11-22T10:00:00.000Z","category":"guardrail_block","severity":"warning","user_id":"u1","metadata":{"deep":${deep(100_000)},"obj":{"a":${deep(50_000)}},"ok":"yes"}}`;
    expect(read(text).metadata).toEqual({ ok: 'yes' });
  });

  it(`keeps the first ${EVENT_FIELD_CAPS.metadataKeys} model keys in key order; dropped values are not counted`, () => {
    const metadata: Record<string, unknown> = { bad0: null, bad1: { a: 1 } };
    for (let i = 0; i < 100_000; i++) metadata[`k${i}`] = i % 3 === 0 ? `v${i}` : i;
    const event = read(line(metadata));
    const keys = Object.keys(event.metadata!);
    expect(keys).toHaveLength(EVENT_FIELD_CAPS.metadataKeys);
    expect(keys[0]).toBe('k0');
    expect(keys.at(-1)).toBe(`k${EVENT_FIELD_CAPS.metadataKeys - 1}`);
    // Integer-like keys come first in a JS object, on every path alike (JSON.parse, OTLP).
    const numeric = read(line({ b: 'b', 10: 'ten', a: 'a', 2: 'two' }));
    expect(Object.keys(numeric.metadata!)).toEqual(['2', '10', 'b', 'a']);
  });

  it('at exactly the key cap: nothing dropped; a __proto__ key stays data', () => {
    const metadata: Record<string, unknown> = {};
    for (let i = 0; i < EVENT_FIELD_CAPS.metadataKeys; i++) metadata[`k${i}`] = i;
    expect(Object.keys(read(line(metadata)).metadata!)).toHaveLength(EVENT_FIELD_CAPS.metadataKeys);
    const proto = read(
      '{"event_id":"E","timestamp":"2026-11-22T10:00:00.000Z","category":"c","severity":"info","user_id":"u","metadata":{"x":null,"__proto__":"p","y":1}}',
    );
    expect(Object.getPrototypeOf(proto.metadata)).toBe(Object.prototype);
    expect(Object.keys(proto.metadata!)).toEqual(['__proto__', 'y']);
  });

  it(`drops a key over ${EVENT_FIELD_CAPS.metadataKeyLength} units with its value, short line or long`, () => {
    const k = 'k'.repeat(EVENT_FIELD_CAPS.metadataKeyLength);
    expect(read(line({ [`${k}x`]: 1, [k]: 2, a: 3 })).metadata).toEqual({ [k]: 2, a: 3 });
    expect(read(line({ ['k'.repeat(70_000)]: 1, a: 3 })).metadata).toEqual({ a: 3 });
  });

  it(`drops an array over ${EVENT_FIELD_CAPS.metadataArrayItems} items, keeps one at the cap`, () => {
    const at = Array.from({ length: EVENT_FIELD_CAPS.metadataArrayItems }, (_, i) => i);
    expect(read(line({ over: [...at, 0], at, a: 1 })).metadata).toEqual({ at, a: 1 });
  });

  it('a long line: strings still cut, other values still dropped', () => {
    const event = read(line({ fp: 'f'.repeat(5_000), n: null, tags: ['t'.repeat(2_000), 'u'] }));
    expect(event.metadata).toEqual({ fp: 'f'.repeat(1_024), tags: ['t'.repeat(1_024), 'u'] });
  });
});
