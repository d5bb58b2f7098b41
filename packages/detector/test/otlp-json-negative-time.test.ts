// An OTLP/JSON time before 1970 costs nothing but that time. OpenTelemetry JS's JSON exporters
// write the HrTime of a record or span dated before the epoch as a negative decimal
// ("-1000000000"), which fixed64 cannot hold; the receiver answered the whole request 400 ('must
// be a non-negative integer'), which a Collector does not retry: every record batched with it
// was lost, though an llmsec record's event time is its llmsec.event.timestamp attribute. Such a
// time is read as 0, OTLP's unknown (a log record then takes its observed time).
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { decodeLogs, decodeTraces } from '../src/otlp/decode.ts';
import { resolveDecodeLimits } from '../src/otlp/limits.ts';

const limits = resolveDecodeLimits();
const OBSERVED = '1700000000000000000';

describe('OTLP/JSON: a negative time is unknown, not a failed request', () => {
  it('log records: read with their observed time, their siblings taken', () => {
    const records = [
      { eventName: 'a', timeUnixNano: '1700000000001000000' },
      { eventName: 'b', timeUnixNano: '-1000000000', observedTimeUnixNano: OBSERVED },
      { eventName: 'c', timeUnixNano: -1e9, observedTimeUnixNano: OBSERVED },
      { eventName: 'd', timeUnixNano: '-1000000000', observedTimeUnixNano: '-5' },
    ];
    const body = Buffer.from(JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: records }] }] }));
    const out = decodeLogs(body, 'json', limits);
    expect(out.map((r) => [r.eventName, r.timeMs, r.overCap])).toEqual([
      ['a', 1_700_000_000_001, undefined],
      ['b', 1_700_000_000_000, undefined],
      ['c', 1_700_000_000_000, undefined],
      ['d', 0, undefined],
    ]);
  });

  it('spans and span events: the negative times read as 0, the span kept', () => {
    const span = {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      name: 'early',
      startTimeUnixNano: '-2000000000',
      endTimeUnixNano: -1e9,
      events: [{ name: 'llmsec.auth_failure', timeUnixNano: '-1000000000' }],
    };
    const body = Buffer.from(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] }));
    const [out] = decodeTraces(body, 'json', limits);
    expect(out!.name).toBe('early');
    expect([out!.startMs, out!.endMs, out!.events[0]!.timeMs]).toEqual([0, 0, 0]);
  });

  it('other shapes are still a malformed request', () => {
    for (const bad of ['abc', '1e3', '-', true, { low: -1 }]) {
      const body = Buffer.from(
        JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ timeUnixNano: bad }] }] }] }),
      );
      expect(() => decodeLogs(body, 'json', limits), JSON.stringify(bad)).toThrow(/non-negative integer/);
    }
  });
});
