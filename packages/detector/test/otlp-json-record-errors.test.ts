// An OTLP/JSON intValue past int64 costs its record, not the request. It
// made the whole request a 400 (which the Collector does not retry: every record batched with
// it lost); now that record is rejected alone, as a record past a cap is (over-cap.ts: OTLP
// partial success, counted as rejected).
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { decodeLogs, decodeTraces } from '../src/otlp/decode.ts';
import { resolveDecodeLimits } from '../src/otlp/limits.ts';

const limits = resolveDecodeLimits();

const record = (name: string, value: unknown): unknown => ({
  eventName: name,
  timeUnixNano: '1700000000000000000',
  attributes: [{ key: 'n', value }],
});
const logs = (...records: unknown[]): Uint8Array =>
  Buffer.from(JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: records }] }] }));

describe('OTLP/JSON: one record at fault', () => {
  it('an intValue past int64 rejects its record alone (string and number forms)', () => {
    for (const big of ['9223372036854775808', '-9223372036854775809', 1e19]) {
      const out = decodeLogs(
        logs(
          record('a', { intValue: 1 }),
          record('b', { intValue: big }),
          record('c', { intValue: '-9223372036854775808' }),
        ),
        'json',
        limits,
      );
      expect(out.map((r) => r.eventName)).toEqual(['a', '', 'c']);
      expect(out[1]!.overCap).toBe('AnyValue.intValue out of int64 range');
      expect(out[0]!.attributes).toEqual({ n: 1 });
      expect(out[2]!.attributes).toEqual({ n: '-9223372036854775808' });
    }
  });

  it('an intValue past int64 in a resource rejects the records under it, its siblings taken', () => {
    const body = Buffer.from(
      JSON.stringify({
        resourceLogs: [
          {
            resource: { attributes: [{ key: 'r', value: { intValue: '99999999999999999999' } }] },
            scopeLogs: [{ logRecords: [record('x', { intValue: 1 })] }],
          },
          { scopeLogs: [{ logRecords: [record('y', { intValue: 2 })] }] },
        ],
      }),
    );
    const out = decodeLogs(body, 'json', limits);
    expect(out[0]!.overCap).toContain('out of int64 range');
    expect(out[1]!.eventName).toBe('y');
  });

  it('a span with an intValue past int64 is rejected alone', () => {
    const span = (name: string, v: unknown): unknown => ({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      name,
      attributes: [{ key: 'n', value: { intValue: v } }],
    });
    const body = Buffer.from(
      JSON.stringify({
        resourceSpans: [{ scopeSpans: [{ spans: [span('a', 1), span('b', '1' + '0'.repeat(19))] }] }],
      }),
    );
    const out = decodeTraces(body, 'json', limits);
    expect(out[0]!.name).toBe('a');
    expect(out[1]!.overCap).toBe('AnyValue.intValue out of int64 range');
  });
});
