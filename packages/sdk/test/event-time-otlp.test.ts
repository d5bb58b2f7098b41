import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JsonLogsSerializer, JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { createHarness } from './harness.ts';

// OTLP times are unsigned nanoseconds since 1970 (fixed64). An event dated before 1970 (timeMs
// -1000: a valid RFC 3339 timestamp) was given to the span event and the log record as a
// negative HrTime, which the http/json exporters (the SDK's default protocol) write as
// "-1000000000": a Collector or llmsec detector refuses the whole request (400), and every
// record batched with it is lost. The event's own time stays in llmsec.event.timestamp.

type Harness = ReturnType<typeof createHarness>;
let h: Harness;
beforeEach(() => {
  h = createHarness();
});
afterEach(async () => {
  await h.close();
});

const NANOS = /^\d+$/;

/** Every OTLP time field (…UnixNano) in a serialized request. */
function times(body: Uint8Array | undefined): string[] {
  const found: string[] = [];
  JSON.parse(new TextDecoder().decode(body), (key, value: unknown) => {
    if (key.endsWith('UnixNano')) found.push(String(value));
    return value;
  });
  return found;
}

describe('an event before 1970 is exported with OTLP times that are unsigned', () => {
  it('its log record and span event times are not negative; its timestamp is kept', () => {
    h.tracer.startActiveSpan('request', (span) => {
      const before = h.events.authFailure({ reason: 'x', timeMs: -1000 });
      expect(before.timestamp).toBe('1969-12-31T23:59:59.000Z');
      h.events.authFailure({ reason: 'x', timeMs: -0.5 });
      h.events.authFailure({ reason: 'x' });
      span.end();
    });
    const records = h.logExporter.getFinishedLogRecords();
    expect(records).toHaveLength(3);
    expect(records[0]!.attributes['llmsec.event.timestamp']).toBe('1969-12-31T23:59:59.000Z');
    const logTimes = times(JsonLogsSerializer.serializeRequest(records));
    const spanTimes = times(JsonTraceSerializer.serializeRequest(h.spanExporter.getFinishedSpans()));
    expect(logTimes.length).toBeGreaterThanOrEqual(6);
    expect(spanTimes.length).toBeGreaterThanOrEqual(5);
    for (const t of [...logTimes, ...spanTimes]) expect(t).toMatch(NANOS);
  });
});
