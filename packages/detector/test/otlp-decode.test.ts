// The decoders on their own: protobuf and OTLP/JSON of the same request decode alike (bytes
// from the real otlp-transformer serializers), AnyValue edge cases, wire-order independence,
// the caps of DecodeLimits, and the short-string cache under collisions and non-ASCII input.
import { Buffer } from 'node:buffer';
import {
  JsonLogsSerializer,
  JsonTraceSerializer,
  ProtobufLogsSerializer,
  ProtobufTraceSerializer,
} from '@opentelemetry/otlp-transformer';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { describe, expect, it } from 'vitest';
import { decodeLogs, decodeTraces } from '../src/otlp/decode.ts';
import { OtlpDecodeError, resolveDecodeLimits } from '../src/otlp/limits.ts';
import { llmsecLogRecords } from './otlp-support.ts';

const limits = resolveDecodeLimits();

// Minimal protobuf writer for hand-made requests.
function varint(n: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}
const ld = (field: number, payload: Uint8Array | number[]): number[] => [
  ...varint((field << 3) | 2),
  ...varint(payload.length),
  ...payload,
];
const str = (field: number, s: string): number[] => ld(field, [...Buffer.from(s, 'utf8')]);
const vi = (field: number, n: number | bigint): number[] => [...varint(field << 3), ...varint(n)];
const kv = (key: string, anyValue: number[]): number[] => ld(6, [...str(1, key), ...ld(2, anyValue)]);
/** ExportLogsServiceRequest with one ResourceLogs, one ScopeLogs, the given LogRecord payloads. */
const logsRequest = (...records: number[][]): Uint8Array =>
  Uint8Array.from(
    ld(
      1,
      ld(
        2,
        records.flatMap((r) => ld(2, r)),
      ),
    ),
  );

describe('OTLP decoders', () => {
  it('protobuf and OTLP/JSON of the same logs request decode to the same records', () => {
    const records = llmsecLogRecords(50, 7);
    const fromProto = decodeLogs(ProtobufLogsSerializer.serializeRequest(records)!, 'protobuf', limits);
    const fromJson = decodeLogs(JsonLogsSerializer.serializeRequest(records)!, 'json', limits);
    expect(fromProto).toHaveLength(50);
    expect(fromJson).toEqual(fromProto);
    expect(fromProto[3]!.attributes['user.id']).toBe('u3');
  });

  it('protobuf and OTLP/JSON of the same traces request decode to the same spans', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'svc' }),
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    const tracer = provider.getTracer('t');
    // Epoch times: the SDK reads a small number as a performance.now() offset.
    const t0 = Date.parse('2026-11-22T10:00:00.000Z');
    const parent = tracer.startSpan('parent', { startTime: t0 });
    parent.addEvent(
      'llmsec.auth_failure',
      { 'llmsec.event.id': 'EVT-1', n: 2 ** 55, xs: [true, false] },
      t0 + 100,
    );
    parent.setAttribute('neg', -(2 ** 60));
    parent.end(t0 + 1_000);
    const spans = exporter.getFinishedSpans();
    const fromProto = decodeTraces(ProtobufTraceSerializer.serializeRequest(spans)!, 'protobuf', limits);
    const fromJson = decodeTraces(JsonTraceSerializer.serializeRequest(spans)!, 'json', limits);
    expect(fromJson).toEqual(fromProto);
    expect(fromProto[0]!.attributes.neg).toBe((-(2n ** 60n)).toString());
    expect(fromProto[0]).toMatchObject({ startMs: t0, endMs: t0 + 1_000, name: 'parent', parentSpanId: '' });
    expect(fromProto[0]!.events[0]).toEqual({
      timeMs: t0 + 100,
      name: 'llmsec.auth_failure',
      attributes: { 'llmsec.event.id': 'EVT-1', n: (2n ** 55n).toString(), xs: [true, false] },
    });
  });

  it('AnyValue: every kind, empty values, int64 limits, repeated keys, and a __proto__ key kept as data', () => {
    const record = [
      ...kv('s', str(1, 'héllo ✓')),
      ...kv('b', vi(2, 1)),
      ...kv('i', vi(3, -5)),
      ...kv('imax', vi(3, 2n ** 63n - 1n)),
      ...kv('imin', vi(3, -(2n ** 63n))),
      ...kv('d', [0x21, ...new Uint8Array(new Float64Array([2.5]).buffer)]),
      ...kv('bytes', ld(7, [1, 2, 3])),
      ...kv('arr', ld(5, [...ld(1, str(1, 'a')), ...ld(1, vi(3, 7)), ...ld(1, [])])),
      ...kv('map', ld(6, ld(1, [...str(1, 'k'), ...ld(2, vi(2, 0))]))),
      ...kv('empty', []),
      ...kv('dup', str(1, 'first')),
      ...kv('dup', str(1, 'second')),
      ...kv('__proto__', str(1, 'data')),
      ...str(12, 'llmsec.pii_detected'),
    ];
    const [r] = decodeLogs(logsRequest(record), 'protobuf', limits);
    expect(Object.getPrototypeOf(r!.attributes)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(r!.attributes, '__proto__')?.value).toBe('data');
    expect({ ...r!.attributes, __proto__: undefined }).toMatchObject({
      s: 'héllo ✓',
      b: true,
      i: -5,
      imax: '9223372036854775807',
      imin: '-9223372036854775808',
      d: 2.5,
      bytes: Uint8Array.of(1, 2, 3),
      arr: ['a', 7, null],
      map: { k: false },
      empty: null,
      dup: 'second',
    });
    expect(r!.eventName).toBe('llmsec.pii_detected');
    expect(r).toMatchObject({ timeMs: 0, traceId: '', spanId: '', scope: '', severityNumber: 0, body: null });
  });

  it('reads fields in any wire order, skips unknown fields, falls back to observed time and the event.name attribute', () => {
    const time = [0x59, ...new Uint8Array(new BigUint64Array([1_700_000_000_123_000_000n]).buffer)]; // field 11, fixed64
    const record = [
      ...vi(99, 5), // unknown varint field
      ...str(98, 'unknown'),
      ...kv('event.name', str(1, 'llmsec.auth_failure')),
      ...time,
      ...ld(9, [...Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex')]),
      ...ld(10, [0, 0, 0, 0, 0, 0, 0, 0]), // an all-zero span id is no span id
    ];
    // Resource (field 1, with Resource.attributes = 1) after the scope logs on the wire.
    const resource = ld(1, ld(1, [...str(1, 'service.name'), ...ld(2, str(1, 'svc'))]));
    const body = Uint8Array.from(
      ld(1, [...ld(2, [...ld(2, record), ...ld(1, str(1, 'late-scope'))]), ...resource]),
    );
    const [r] = decodeLogs(body, 'protobuf', limits);
    expect(r).toMatchObject({
      timeMs: 1_700_000_000_123,
      eventName: 'llmsec.auth_failure',
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: '',
      scope: 'late-scope',
      resource: { 'service.name': 'svc' },
    });
  });

  it('enforces maxRecords, maxAttributes, maxStringBytes, maxDepth (a value dropped) and maxSpanEvents (a record rejected alone)', () => {
    const small = resolveDecodeLimits({
      maxRecords: 3,
      maxAttributes: 4,
      maxStringBytes: 16,
      maxDepth: 3,
      maxSpanEvents: 2,
    });
    const err = (fn: () => unknown): string => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(OtlpDecodeError);
        return (e as Error).message;
      }
      throw new Error('expected an OtlpDecodeError');
    };
    expect(err(() => decodeLogs(logsRequest([], [], [], []), 'protobuf', small))).toMatch(/maxRecords/);
    expect(decodeLogs(logsRequest([], [], []), 'protobuf', small)).toHaveLength(3);
    const attrs = (n: number): number[] => Array.from({ length: n }, (_, i) => kv(`k${i}`, vi(2, 1))).flat();
    // A record past maxAttributes is rejected alone (overCap, empty), the records beside it kept;
    // so is one holding a kvlist past it.
    const [over, next] = decodeLogs(logsRequest(attrs(5), attrs(4)), 'protobuf', small);
    expect(over).toMatchObject({ overCap: expect.stringMatching(/maxAttributes \(4\)/), attributes: {} });
    expect(Object.keys(next!.attributes)).toHaveLength(4);
    expect(next!.overCap).toBeUndefined();
    const kvlist = ld(
      6,
      Array.from({ length: 5 }, (_, i) => ld(1, [...str(1, `k${i}`), ...ld(2, vi(2, 1))])).flat(),
    );
    expect(
      decodeLogs(logsRequest(kv('k', kvlist), attrs(1)), 'protobuf', small).map((r) => r.overCap),
    ).toEqual([expect.stringMatching(/maxAttributes/), undefined]);
    // An array value past maxAttributes items is dropped (null), not the request (core drops a
    // log line's metadata array past its item cap the same way); at the cap it is kept.
    const array = (n: number): number[] => ld(5, Array.from({ length: n }, () => ld(1, str(1, 'a'))).flat());
    expect(decodeLogs(logsRequest(kv('k', array(5))), 'protobuf', small)[0]!.attributes.k).toBeNull();
    expect(decodeLogs(logsRequest(kv('k', array(4))), 'protobuf', small)[0]!.attributes.k).toEqual([
      'a',
      'a',
      'a',
      'a',
    ]);
    const jsonArray = (n: number) =>
      Buffer.from(
        JSON.stringify({
          resourceLogs: [
            {
              scopeLogs: [
                {
                  logRecords: [
                    {
                      attributes: [
                        {
                          key: 'k',
                          value: {
                            arrayValue: { values: Array.from({ length: n }, () => ({ stringValue: 'a' })) },
                          },
                        },
                      ],
                    },
                  ],
                },
              ],
            },
          ],
        }),
      );
    expect(decodeLogs(jsonArray(5), 'json', small)[0]!.attributes.k).toBeNull();
    expect(decodeLogs(jsonArray(4), 'json', small)[0]!.attributes.k).toHaveLength(4);
    // An attribute value over maxStringBytes is dropped (null), not the request
    // (otlp-long-value.test.ts).
    expect(decodeLogs(logsRequest(kv('k', str(1, 'x'.repeat(17)))), 'protobuf', small)[0]!.attributes.k).toBe(
      null,
    );
    // A key over it drops its attribute too (a log line's metadata key that long is dropped).
    expect(
      decodeLogs(logsRequest(kv('k'.repeat(17), str(1, 'x'))), 'protobuf', small)[0]!.attributes,
    ).toEqual({});
    const nested = (depth: number): number[] => (depth === 1 ? str(1, 'x') : ld(5, ld(1, nested(depth - 1))));
    expect(decodeLogs(logsRequest(kv('k', nested(3))), 'protobuf', small)[0]!.attributes.k).toEqual([['x']]);
    // Past maxDepth the value is dropped (null), not the request, as a line's nested metadata is.
    expect(decodeLogs(logsRequest(kv('k', nested(4))), 'protobuf', small)[0]!.attributes.k).toEqual([
      [[null]],
    ]);
    // A span past maxSpanEvents, or named past maxStringBytes, is rejected alone.
    const span = [...ld(11, str(2, 'e1')), ...ld(11, str(2, 'e2')), ...ld(11, str(2, 'e3'))];
    const traces = Uint8Array.from(
      ld(1, ld(2, [...ld(2, span), ...ld(2, str(5, 'x'.repeat(17))), ...ld(2, str(5, 'ok'))])),
    );
    const decodedSpans = decodeTraces(traces, 'protobuf', small);
    expect(decodedSpans.map((s) => s.overCap)).toEqual([
      expect.stringMatching(/maxSpanEvents \(2\)/),
      expect.stringMatching(/maxStringBytes \(16\)/),
      undefined,
    ]);
    expect(decodedSpans[0]!.events).toEqual([]);
    expect(decodedSpans[2]!.name).toBe('ok');
    // A resource past maxAttributes rejects the records under it, not those of another resource.
    const resourceAttrs = Array.from({ length: 5 }, (_, i) =>
      ld(1, [...str(1, `r${i}`), ...ld(2, vi(2, 1))]),
    ).flat();
    const twoResources = Uint8Array.from([
      ...ld(1, [...ld(1, resourceAttrs), ...ld(2, ld(2, []))]),
      ...ld(1, ld(2, ld(2, []))),
    ]);
    expect(decodeLogs(twoResources, 'protobuf', small).map((r) => r.overCap)).toEqual([
      expect.stringMatching(/^resource: .*maxAttributes/),
      undefined,
    ]);
    // The same caps in OTLP/JSON.
    const json = (o: unknown): Uint8Array => Buffer.from(JSON.stringify(o));
    const many = { resourceLogs: [{ scopeLogs: [{ logRecords: [{}, {}, {}, {}] }] }] };
    expect(err(() => decodeLogs(json(many), 'json', small))).toMatch(/maxRecords/);
    // An event name over maxStringBytes is cut (it only says llmsec or not), another name fails.
    const long = { resourceLogs: [{ scopeLogs: [{ logRecords: [{ eventName: 'x'.repeat(17) }] }] }] };
    expect(decodeLogs(json(long), 'json', small)[0]!.eventName).toBe('x'.repeat(17));
    // A scope named past it rejects its records alone (JSON and protobuf).
    const scope = {
      resourceLogs: [
        { scopeLogs: [{ scope: { name: 'x'.repeat(17) }, logRecords: [{}] }, { logRecords: [{}] }] },
      ],
    };
    expect(decodeLogs(json(scope), 'json', small).map((r) => r.overCap)).toEqual([
      expect.stringMatching(/^scope: .*maxStringBytes/),
      undefined,
    ]);
    const protoScope = Uint8Array.from(
      ld(1, [...ld(2, [...ld(1, str(1, 'x'.repeat(17))), ...ld(2, [])]), ...ld(2, ld(2, []))]),
    );
    expect(decodeLogs(protoScope, 'protobuf', small).map((r) => r.overCap)).toEqual([
      expect.stringMatching(/^scope: .*maxStringBytes/),
      undefined,
    ]);
    // JSON: a record past maxAttributes, a span past maxSpanEvents, rejected alone.
    const jsonAttrs = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: { intValue: 1 } }));
    const jsonOver = {
      resourceLogs: [
        { scopeLogs: [{ logRecords: [{ attributes: jsonAttrs(5) }, { attributes: jsonAttrs(4) }] }] },
      ],
    };
    expect(decodeLogs(json(jsonOver), 'json', small).map((r) => r.overCap)).toEqual([
      expect.stringMatching(/maxAttributes/),
      undefined,
    ]);
    const jsonSpans = {
      resourceSpans: [
        { scopeSpans: [{ spans: [{ events: [{}, {}, {}] }, { name: 'x'.repeat(17) }, { name: 'ok' }] }] },
      ],
    };
    expect(decodeTraces(json(jsonSpans), 'json', small).map((s) => s.overCap)).toEqual([
      expect.stringMatching(/maxSpanEvents/),
      expect.stringMatching(/maxStringBytes/),
      undefined,
    ]);
    // A wrong shape still fails the whole request (its framing cannot be trusted).
    const badShape = { resourceLogs: [{ scopeLogs: [{ logRecords: [{ attributes: 'x' }] }] }] };
    expect(err(() => decodeLogs(json(badShape), 'json', small))).toMatch(/must be an array/);
    expect(() => resolveDecodeLimits({ maxDepth: 0 })).toThrow(/maxDepth/);
  });

  it('short-string cache: colliding, non-ASCII and look-alike strings always decode to their own text', () => {
    // Same length, same sampled bytes, different middle: the cache must compare every byte.
    const keys = ['aXXXbXXcXXXd', 'aYYYbYYcYYYd', 'aXXXbXXcXXYd', 'k\u00e9y-1234567', 'kéy-1234567'];
    for (let round = 0; round < 3; round++) {
      const [r] = decodeLogs(logsRequest(keys.flatMap((k) => kv(k, str(1, k)))), 'protobuf', limits);
      expect(Object.keys(r!.attributes)).toEqual(keys.slice(0, 4));
      for (const k of Object.keys(r!.attributes)) expect(r!.attributes[k]).toBe(k);
    }
    // Thousands of distinct values through the cache, each read back exactly.
    const values = Array.from({ length: 10_000 }, (_, i) => `user-${i.toString(36)}`);
    const body = logsRequest(...values.map((v) => kv('user.id', str(1, v))));
    expect(decodeLogs(body, 'protobuf', limits).map((r) => r.attributes['user.id'])).toEqual(values);
    expect(decodeLogs(body, 'protobuf', limits).map((r) => r.attributes['user.id'])).toEqual(values);
  });

  it('short-string cache: strings that differ only in the bytes before the last whole word', () => {
    // Same length and sampled bytes (so the same slot); the hit check compares 4 bytes at a time
    // from the end, then the first length % 4 bytes one by one: a difference there must count.
    const values = [
      'aXbcde',
      'aYbcde',
      'bXbcde',
      'aXbcde',
      'Q-abcdefg',
      'R-abcdefg',
      'Q-abcdefg',
      'abc',
      'abd',
      'abc',
    ];
    for (let round = 0; round < 3; round++) {
      const body = logsRequest(...values.map((v) => kv('v', str(1, v))));
      expect(decodeLogs(body, 'protobuf', limits).map((r) => r.attributes.v)).toEqual(values);
    }
  });

  it('short-string cache: invalid UTF-8 decodes as the UTF-8 decoder does, cached or not', () => {
    // A lone continuation byte is one U+FFFD per byte: as many characters as bytes.
    const bad = [0x61, 0x80, 0x62, 0xff, 0x63];
    const expected = Buffer.from(bad).toString('utf8');
    const body = logsRequest(...Array.from({ length: 4 }, () => kv('k', ld(1, bad))));
    for (let round = 0; round < 2; round++) {
      expect(decodeLogs(body, 'protobuf', limits).map((r) => r.attributes.k)).toEqual([
        expected,
        expected,
        expected,
        expected,
      ]);
    }
  });
});
