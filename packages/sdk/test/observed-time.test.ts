import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '@llmsec/core';
import { createHarness } from './harness.ts';

// The log record's observed timestamp: the event time when this call read the system clock for
// it (one reading shared with the span event and the record's timestamp), else the SDK's own
// reading. Either way it is "now", never a given or injected event time.

let h: ReturnType<typeof createHarness> | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function onlyRecord(harness: ReturnType<typeof createHarness>) {
  const records = harness.logExporter.getFinishedLogRecords();
  expect(records).toHaveLength(1);
  return records[0]!;
}

describe('the log record of an event', () => {
  it('with the system clock: observed at the event time, the same reading as its timestamp and the span event', () => {
    h = createHarness({ clock: systemClock });
    const before = Date.now();
    let spanTime: readonly number[] | undefined;
    h.tracer.startActiveSpan('chat', (span) => {
      h!.events.guardrailBlock({ layer: 'injection', reason: 'r' });
      span.end();
      spanTime = h!.spanExporter.getFinishedSpans()[0]!.events[0]!.time;
    });
    const after = Date.now();
    const record = onlyRecord(h);
    const event = Date.parse(record.attributes['llmsec.event.timestamp'] as string);
    expect(hrTimeToMilliseconds(record.hrTimeObserved)).toBe(event);
    // One reading, handed over: the very HrTime of the record's time, not an equal new one.
    expect(record.hrTimeObserved).toBe(record.hrTime);
    expect(hrTimeToMilliseconds(record.hrTime)).toBe(event);
    expect(spanTime).toEqual(record.hrTime);
    expect(event).toBeGreaterThanOrEqual(before);
    expect(event).toBeLessThanOrEqual(after);
  });

  it('with a given event time: the time is the given one, observed is now (the SDK reads the clock)', () => {
    h = createHarness({ clock: systemClock });
    const given = Date.parse('2026-01-02T03:04:05.678Z');
    const before = Date.now();
    h.events.guardrailBlock({ layer: 'injection', reason: 'r', timeMs: given });
    const after = Date.now();
    const record = onlyRecord(h);
    expect(hrTimeToMilliseconds(record.hrTime)).toBe(given);
    const observed = hrTimeToMilliseconds(record.hrTimeObserved);
    expect(observed).toBeGreaterThanOrEqual(before);
    expect(observed).toBeLessThanOrEqual(after);
  });

  it('with an injected clock: the time is the clock, observed is now (the SDK reads the clock)', () => {
    h = createHarness(); // a ManualClock at 2026-11-22T10:00:00Z
    const before = Date.now();
    h.events.guardrailBlock({ layer: 'injection', reason: 'r' });
    const after = Date.now();
    const record = onlyRecord(h);
    expect(hrTimeToMilliseconds(record.hrTime)).toBe(h.clock.now());
    const observed = hrTimeToMilliseconds(record.hrTimeObserved);
    expect(observed).toBeGreaterThanOrEqual(before);
    expect(observed).toBeLessThanOrEqual(after);
  });
});
