// Values dropped inside a record that is then rejected as over_cap are not counted as dropped
// (over-cap.ts: the record is counted as rejected instead), whatever rejects it: its own cap, or
// its resource's or scope's, which on the protobuf wire may come after its records. Before, a
// resource or scope past a cap left the dropped values of the records under it counted in
// ReceiveReport.droppedValues and llmsec_detector_values_dropped_total, where OTLP/JSON (the
// resource read first, its records never decoded) counted none: one request, two counts.
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { decodeLogs, decodeTraces } from '../src/otlp/decode.ts';
import { droppedValues } from '../src/otlp/dropped-values.ts';
import { resolveDecodeLimits } from '../src/otlp/limits.ts';

const small = resolveDecodeLimits({ maxAttributes: 4, maxStringBytes: 16 });

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
const ld = (field: number, payload: number[]): number[] => [
  ...varint((field << 3) | 2),
  ...varint(payload.length),
  ...payload,
];
const str = (field: number, s: string): number[] => ld(field, [...Buffer.from(s)]);
/** KeyValue { key, AnyValue { string_value } } as field `field` of its message. */
const kv = (field: number, key: string, value: string): number[] =>
  ld(field, [...str(1, key), ...ld(2, str(1, value))]);
const LONG = 'x'.repeat(17); // over maxStringBytes: dropped (null), counted
const resourceOverCap = ld(
  1,
  [0, 1, 2, 3, 4].flatMap((i) => kv(1, `r${i}`, 'v')),
);

function counted<T>(decode: () => T): { result: T; dropped: number } {
  const before = droppedValues.count;
  const result = decode();
  return { result, dropped: droppedValues.count - before };
}

describe('dropped values of records rejected as over_cap', () => {
  it('protobuf logs: a resource past max_attributes after its records', () => {
    // ResourceLogs { scope_logs { log_records { attributes: k = LONG } }, resource (5 attributes) }
    const body = Uint8Array.from(ld(1, [...ld(2, ld(2, kv(6, 'k', LONG))), ...resourceOverCap]));
    const { result, dropped } = counted(() => decodeLogs(body, 'protobuf', small));
    expect(result.map((r) => r.overCap)).toEqual([expect.stringMatching(/^resource: /)]);
    expect(dropped).toBe(0); // before: 1
  });

  it('protobuf logs: a scope named past max_string_bytes after its records', () => {
    const body = Uint8Array.from(ld(1, ld(2, [...ld(2, kv(6, 'k', LONG)), ...ld(1, str(1, LONG))])));
    const { result, dropped } = counted(() => decodeLogs(body, 'protobuf', small));
    expect(result.map((r) => r.overCap)).toEqual([expect.stringMatching(/^scope: /)]);
    expect(dropped).toBe(0); // before: 1
  });

  it('protobuf traces: a resource past max_attributes after its spans', () => {
    const body = Uint8Array.from(ld(1, [...ld(2, ld(2, kv(9, 'k', LONG))), ...resourceOverCap]));
    const { result, dropped } = counted(() => decodeTraces(body, 'protobuf', small));
    expect(result.map((s) => s.overCap)).toEqual([expect.stringMatching(/^resource: /)]);
    expect(dropped).toBe(0); // before: 1
  });

  it('OTLP/JSON: a resource with a dropped value, then past max_attributes, counts none either', () => {
    const attrs = [
      { key: 'long', value: { stringValue: LONG } },
      ...[0, 1, 2, 3].map((i) => ({ key: `r${i}`, value: { stringValue: 'v' } })),
    ];
    const body = Buffer.from(
      JSON.stringify({
        resourceLogs: [{ resource: { attributes: attrs }, scopeLogs: [{ logRecords: [{}] }] }],
      }),
    );
    const { result, dropped } = counted(() => decodeLogs(body, 'json', small));
    expect(result.map((r) => r.overCap)).toEqual([expect.stringMatching(/^resource: /)]);
    expect(dropped).toBe(0); // 0 before too: the JSON path counts a list's entries first
  });

  it('OTLP/JSON: a resource with a dropped value, then a kvlist past max_attributes', () => {
    const kvlist = {
      kvlistValue: { values: [0, 1, 2, 3, 4].map((i) => ({ key: `k${i}`, value: { intValue: 1 } })) },
    };
    const attrs = [
      { key: 'long', value: { stringValue: LONG } },
      { key: 'map', value: kvlist },
    ];
    const body = Buffer.from(
      JSON.stringify({ resourceSpans: [{ resource: { attributes: attrs }, scopeSpans: [{ spans: [{}] }] }] }),
    );
    const { result, dropped } = counted(() => decodeTraces(body, 'json', small));
    expect(result.map((s) => s.overCap)).toEqual([expect.stringMatching(/^resource: /)]);
    expect(dropped).toBe(0); // before: 1
  });

  it('a record kept keeps its dropped value counted', () => {
    const body = Uint8Array.from(ld(1, ld(2, ld(2, kv(6, 'k', LONG)))));
    const { result, dropped } = counted(() => decodeLogs(body, 'protobuf', small));
    expect(result[0]!.overCap).toBeUndefined();
    expect(result[0]!.attributes.k).toBeNull();
    expect(dropped).toBe(1);
  });
});
