import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, decodeEventLine, encodeEvent, parseTimestamp } from '@llmsec/core';
import { createHarness } from './harness.ts';

// An event's `timestamp` is RFC 3339 (docs/formats.md), whose year has four digits: 0000-9999.
// Date#toISOString writes any other year as +YYYYYY / -YYYYYY, which every reader (llmsec replay,
// test-rules, core's decodeEvent, the detector's OTLP receivers) refuses as a bad timestamp.
// A time in microseconds given as timeMs (Date.now() * 1000, a tracer's clock) is year ~58,000.

const CLOCK = '2026-11-22T10:00:00.000Z';
const FIRST_MS = Date.parse('0000-01-01T00:00:00.000Z');
const LAST_MS = Date.parse('9999-12-31T23:59:59.999Z');

type Harness = ReturnType<typeof createHarness>;
let h: Harness;
beforeEach(() => {
  h = createHarness();
});
afterEach(async () => {
  await h.close();
});

/** The event as every reader reads it back: its JSONL line and its log record's attribute. */
function readBack(event: ReturnType<Harness['events']['authFailure']>): number {
  const decoded = decodeEventLine(encodeEvent(event));
  const records = h.logExporter.getFinishedLogRecords();
  const attribute = records[records.length - 1]!.attributes['llmsec.event.timestamp'];
  expect(attribute).toBe(event.timestamp);
  expect(parseTimestamp(attribute as string)).toBe(decoded.timeMs);
  return decoded.timeMs;
}

describe('the event time is one RFC 3339 can write', () => {
  it('a timeMs past year 9999 or before year 0000 falls back to the clock', () => {
    const micros = Date.parse(CLOCK) * 1000;
    for (const timeMs of [micros, -micros, LAST_MS + 1, FIRST_MS - 1, 8.64e15, -8.64e15]) {
      const event = h.events.authFailure({ reason: 'x', timeMs });
      expect(event.timestamp, String(timeMs)).toBe(CLOCK);
      expect(readBack(event)).toBe(Date.parse(CLOCK));
    }
  });

  it('the first and last millisecond of that range are kept as given', () => {
    for (const [timeMs, iso] of [
      [FIRST_MS, '0000-01-01T00:00:00.000Z'],
      [LAST_MS, '9999-12-31T23:59:59.999Z'],
    ] as const) {
      const event = h.events.authFailure({ reason: 'x', timeMs });
      expect(event.timestamp).toBe(iso);
      expect(readBack(event)).toBe(timeMs);
    }
  });

  it('a clock reading out of that range gives way to the system clock', () => {
    const far = createHarness({ clock: new ManualClock(LAST_MS + 1) });
    try {
      const before = Date.now();
      const event = far.events.authFailure({ reason: 'x' });
      const read = decodeEventLine(encodeEvent(event)).timeMs;
      expect(read).toBeGreaterThanOrEqual(before);
      expect(read).toBeLessThanOrEqual(Date.now());
    } finally {
      void far.close();
    }
  });
});
