// An llmsec event's field over maxStringBytes: the detector keeps the event with the field cut to
// core's caps, as every JSONL reader does (core's decodeEvent: replay, test-rules), instead of
// dropping the field (or, for a required one such as user_id, the whole event). From the real
// OTel SDK's records, serialized by the real OTLP serializers, protobuf and JSON.
import {
  decodeEvent,
  decodeEventLine,
  encodeEvent,
  eventToAttributes,
  type SecurityEvent,
} from '@llmsec/core';
import { JsonLogsSerializer, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  InMemoryLogRecordExporter,
  LoggerProvider,
  SimpleLogRecordProcessor,
  type ReadableLogRecord,
} from '@opentelemetry/sdk-logs';
import { describe, expect, it } from 'vitest';
import { decodeLogs } from '../src/otlp/decode.ts';
import { droppedValues } from '../src/otlp/dropped-values.ts';
import { DEFAULT_DECODE_LIMITS } from '../src/otlp/limits.ts';
import { logRecordToEvent } from '../src/otlp/to-event.ts';
import { invalidEventDetail } from '../src/service/invalid-event.ts';
import type { Attributes } from '../src/otlp/types.ts';

const EMOJI = '\u{1F600}';

const hostile: SecurityEvent = {
  event_id: `EVT-${'e'.repeat(70_000)}`,
  timestamp: '2026-11-22T10:00:00.000Z',
  category: 'guardrail_block',
  severity: 'warning',
  // 40,000 units, 80,000 bytes: over 64 KiB only in UTF-8.
  user_id: '\u00e9'.repeat(40_000),
  // An emoji across the 256-unit cut: kept whole neither way (cutId).
  session_id: `${'s'.repeat(255)}${EMOJI.repeat(20_000)}`,
  conversation_id: `c-${'\u4e2d'.repeat(30_000)}`,
  source_ip: `10.0.0.1${' '.repeat(70_000)}`,
  service: `svc-${'v'.repeat(70_000)}`,
  description: 'd'.repeat(200_000),
  request_preview: `${'p'.repeat(499)}${EMOJI.repeat(40_000)}`,
  response_preview: 'r'.repeat(66_000),
  metadata: {
    guardrail_layer: 'input',
    payload_fingerprint: 'f'.repeat(70_000),
    tags: ['short', `${'t'.repeat(1_023)}${EMOJI.repeat(20_000)}`, 'x'],
    count: 3,
  },
};

function records(attributes: Attributes[], resource: Record<string, string> = {}): ReadableLogRecord[] {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes(resource),
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  const logger = provider.getLogger('app');
  for (const a of attributes) logger.emit({ eventName: 'llmsec.guardrail_block', attributes: a as never });
  return exporter.getFinishedLogRecords();
}

/** What core's JSONL reader (replay, test-rules) makes of the same event. */
function fromJsonl(event: SecurityEvent): SecurityEvent {
  return decodeEvent(JSON.parse(encodeEvent(event))).event;
}

const FORMATS = [
  ['protobuf', (r: ReadableLogRecord[]) => ProtobufLogsSerializer.serializeRequest(r)!],
  ['json', (r: ReadableLogRecord[]) => JsonLogsSerializer.serializeRequest(r)!],
] as const;

describe('an llmsec record with fields over maxStringBytes', () => {
  for (const [format, serialize] of FORMATS) {
    it(`is the event core's JSONL reader makes of it, fields cut, nothing dropped (${format})`, () => {
      const bytes = serialize(records([eventToAttributes(hostile) as Attributes]));
      expect(bytes.length).toBeGreaterThan(600_000);
      const before = droppedValues.count;
      const [record] = decodeLogs(bytes, format, DEFAULT_DECODE_LIMITS);
      // Every other reader of the record still sees the value dropped (GenAI prompts: unknown).
      expect(record!.attributes['user.id']).toBeNull();
      const event = logRecordToEvent(record!);
      expect(event).toEqual(fromJsonl(hostile));
      expect(event!.user_id).toBe('\u00e9'.repeat(256));
      expect(event!.session_id).toBe('s'.repeat(255));
      expect((event!.metadata!.tags as string[])[1]).toBe('t'.repeat(1_023));
      // One count per field: the cut (capEventFields), not also the drop.
      expect(droppedValues.count - before).toBe(11);
    });

    it(`takes a service name over the cap from the resource, cut (${format})`, () => {
      const { service: _, ...rest } = hostile;
      const bytes = serialize(
        records([eventToAttributes(rest) as Attributes], { 'service.name': hostile.service! }),
      );
      const [record] = decodeLogs(bytes, format, DEFAULT_DECODE_LIMITS);
      expect(logRecordToEvent(record!)?.service).toBe(fromJsonl(hostile).service);
    });

    it(`keeps the fields under the cap as they are, cuts the others (${format})`, () => {
      const short = { ...hostile, user_id: 'alice', event_id: 'EVT-1' };
      const bytes = serialize(records([eventToAttributes(short) as Attributes]));
      const [record] = decodeLogs(bytes, format, DEFAULT_DECODE_LIMITS);
      expect(logRecordToEvent(record!)).toEqual(fromJsonl(short));
    });
  }
});

// The protobuf prefix is decoded from the value's first bytes: it must be the text the whole
// value decodes to (Buffer's UTF-8, as every string under the cap), only shorter. A TextDecoder
// strips a leading U+FEFF by default, and a stream decode drops the bytes of a character cut at
// the end even when they are the value's own end (a max_string_bytes under PREFIX_BYTES).
describe('a protobuf value over maxStringBytes, read as its first units', () => {
  const BOM = '\uFEFF';

  for (const [format, serialize] of FORMATS) {
    it(`keeps a leading U+FEFF, as core keeps it from a JSONL line (${format})`, () => {
      const event = { ...hostile, user_id: `${BOM}${'u'.repeat(70_000)}` };
      const bytes = serialize(records([eventToAttributes(event) as Attributes]));
      const [record] = decodeLogs(bytes, format, DEFAULT_DECODE_LIMITS);
      const got = logRecordToEvent(record!);
      expect(got!.user_id).toBe(`${BOM}${'u'.repeat(255)}`);
      expect(got).toEqual(fromJsonl(event));
    });
  }

  it('keeps a leading U+FEFF of an over-cap record name (such a name is no llmsec event)', () => {
    const exporter = new InMemoryLogRecordExporter();
    const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
    provider.getLogger('app').emit({ eventName: `${BOM}llmsec.guardrail_block${'k'.repeat(70_000)}` });
    const bytes = ProtobufLogsSerializer.serializeRequest(exporter.getFinishedLogRecords())!;
    const [record] = decodeLogs(bytes, 'protobuf', DEFAULT_DECODE_LIMITS);
    expect(record!.eventName).toBe(`${BOM}llmsec.guardrail_block${'k'.repeat(1_025 - 23)}`);
  });

  it('reads a value shorter than PREFIX_BYTES whole: U+FFFD for a cut character at its end, as under the cap', () => {
    // max_string_bytes 24 (the keys and the timestamp fit); user.id is 28 ASCII bytes and two of
    // a three-byte character, written over a placeholder of the same length (no SDK writes
    // invalid UTF-8).
    const limits = { ...DEFAULT_DECODE_LIMITS, maxStringBytes: 24 };
    const placeholder = 'P'.repeat(30);
    const value = Buffer.concat([Buffer.from('a'.repeat(28)), Buffer.from([0xe2, 0x82])]);
    const attrs = eventToAttributes({ ...hostile, user_id: placeholder, event_id: 'EVT-1' });
    const kept = Object.fromEntries(
      Object.entries(attrs).filter(
        ([k]) => k === 'user.id' || /^llmsec\.event\.(id|category|severity|timestamp)$/.test(k),
      ),
    );
    const bytes = Buffer.from(ProtobufLogsSerializer.serializeRequest(records([kept as Attributes]))!);
    const at = bytes.indexOf(placeholder);
    const patched = Buffer.concat([bytes.subarray(0, at), value, bytes.subarray(at + placeholder.length)]);
    const [record] = decodeLogs(patched, 'protobuf', limits);
    expect(record!.attributes['user.id']).toBeNull(); // over the cap: dropped for other readers
    expect(logRecordToEvent(record!)?.user_id).toBe(`${'a'.repeat(28)}\uFFFD`);
  });
});

// A key repeated in one record keeps its last value (OTLP: a map; JSON.parse: the last one), so a
// cut left by an earlier over-cap value of that key is stale. A last value decoded as null (an
// empty AnyValue, over-cap bytes) took the earlier one's cut back: a user.id given long, then
// empty, was that long id cut, where core's reader of {"user_id": "uu...", "user_id": null}
// refuses the line (missing user_id).
describe('a key repeated after an over-cap value', () => {
  const fields: [string, string][] = [
    ['llmsec.event.id', 'EVT-rep'],
    ['llmsec.event.category', 'guardrail_block'],
    ['llmsec.event.severity', 'warning'],
    ['llmsec.event.timestamp', '2026-11-22T10:00:00.000Z'],
  ];
  const long = 'u'.repeat(70_000);

  it('is the last value, as core reads the line (json)', () => {
    const attributes = [
      ...fields.map(([key, v]) => ({ key, value: { stringValue: v } })),
      { key: 'user.id', value: { stringValue: long } },
      { key: 'user.id', value: {} },
    ];
    const body = {
      resourceLogs: [{ scopeLogs: [{ logRecords: [{ eventName: 'llmsec.guardrail_block', attributes }] }] }],
    };
    const [record] = decodeLogs(Buffer.from(JSON.stringify(body)), 'json', DEFAULT_DECODE_LIMITS);
    const line = `{"event_id":"EVT-rep","timestamp":"2026-11-22T10:00:00.000Z","category":"guardrail_block","severity":"warning","user_id":"${long}","user_id":null}`;
    expect(() => decodeEventLine(line)).toThrow(/missing required field "user_id"/);
    expect(logRecordToEvent(record!)).toBeUndefined();
  });

  it('is the last value, as core reads the line (protobuf)', () => {
    const varint = (n: number): number[] => {
      const out: number[] = [];
      for (; n > 0x7f; n >>>= 7) out.push((n & 0x7f) | 0x80);
      out.push(n);
      return out;
    };
    const field = (no: number, bytes: Uint8Array | number[]): Buffer =>
      Buffer.concat([Buffer.from([(no << 3) | 2, ...varint(bytes.length)]), Buffer.from(bytes)]);
    const kv = (key: string, value: Buffer): Buffer =>
      Buffer.concat([field(1, Buffer.from(key)), field(2, value)]);
    const str = (v: string): Buffer => field(1, Buffer.from(v)); // AnyValue.string_value
    const attrs = [
      ...fields.map(([key, v]) => kv(key, str(v))),
      kv('user.id', str(long)),
      kv('user.id', Buffer.alloc(0)), // an empty AnyValue: null
    ];
    const record = Buffer.concat([
      ...attrs.map((a) => field(6, a)),
      field(12, Buffer.from('llmsec.guardrail_block')),
    ]);
    const bytes = field(1, field(2, field(2, record))); // ExportLogsServiceRequest.resource_logs.scope_logs.log_records
    const [decoded] = decodeLogs(bytes, 'protobuf', DEFAULT_DECODE_LIMITS);
    expect(decoded!.attributes['user.id']).toBeNull();
    expect(decoded!.attributes['llmsec.event.id']).toBe('EVT-rep');
    expect(logRecordToEvent(decoded!)).toBeUndefined();
  });
});

// A value dropped for its size (an array past max_attributes, bytes over max_string_bytes) is
// null to every reader, as an absent one: an optional string attribute given so was read as
// absent and the event kept, where the same attribute a little shorter (an array, bytes) makes
// no event, as core's JSONL reader refuses a line whose session_id is a list.
describe('an llmsec string attribute of another kind, dropped for its size', () => {
  const base = eventToAttributes({ ...hostile, user_id: 'alice', event_id: 'EVT-kind' });
  const strings = Object.fromEntries(
    Object.entries(base).filter(([k]) => !k.startsWith('llmsec.metadata.') && typeof base[k] === 'string'),
  );
  const list = Array.from({ length: 1_025 }, (_, i) => `s-${i}`);
  for (const [format, serialize] of FORMATS) {
    it(`is no event: a list past max_attributes (${format})`, () => {
      const line = JSON.stringify({ ...fromJsonl({ ...hostile, user_id: 'alice' }), session_id: list });
      expect(() => decodeEventLine(line)).toThrow(/field "session_id" must be a string/);
      for (const key of ['session.id', 'client.address', 'llmsec.event.description']) {
        const bytes = serialize(records([{ ...strings, [key]: list } as Attributes]));
        const [record] = decodeLogs(bytes, format, DEFAULT_DECODE_LIMITS);
        expect(record!.attributes[key], key).toBeNull();
        expect(logRecordToEvent(record!), key).toBeUndefined();
        expect(invalidEventDetail(record!.attributes)).toBe(`attribute "${key}" must be a string`);
      }
      // Bytes over max_string_bytes, as bytes under it (9a38e15): no event.
      for (const size of [70_000, 10]) {
        const bytes = serialize(records([{ ...strings, 'session.id': new Uint8Array(size) } as Attributes]));
        const [record] = decodeLogs(bytes, format, DEFAULT_DECODE_LIMITS);
        expect(record!.attributes['session.id'] === null, `${size}`).toBe(size > 65_536);
        expect(logRecordToEvent(record!), `${size} bytes`).toBeUndefined();
      }
      // The same list a little shorter: no event either (9a38e15).
      const bytes = serialize(records([{ ...strings, 'session.id': list.slice(1) } as Attributes]));
      expect(logRecordToEvent(decodeLogs(bytes, format, DEFAULT_DECODE_LIMITS)[0]!)).toBeUndefined();
    });

    it(`keeps the event for a metadata list or correlated_events past max_attributes, without it (${format})`, () => {
      const bytes = serialize(
        records([
          { ...strings, 'llmsec.metadata.tags': list, 'llmsec.metadata.n': 1 } as Attributes,
          { ...strings, 'llmsec.event.correlated_events': list } as Attributes,
        ]),
      );
      const [withTags, withCorrelated] = decodeLogs(bytes, format, DEFAULT_DECODE_LIMITS);
      expect(logRecordToEvent(withTags!)?.metadata).toEqual({ n: 1 });
      expect(logRecordToEvent(withCorrelated!)?.user_id).toBe('alice');
    });
  }
});

// A resource's service.name over max_string_bytes is dropped once (one resource) and put back
// for each record under it: the drop is taken back once, each event's cut counted on its own.
describe("a resource's over-cap service.name, shared by its records", () => {
  for (const [format, serialize] of FORMATS) {
    it(`is counted once per event cut, never below what was dropped (${format})`, () => {
      const { service: _, ...rest } = { ...hostile, user_id: 'alice', event_id: 'EVT-svc' };
      const small = { ...DEFAULT_DECODE_LIMITS, maxStringBytes: 200 };
      const strings = Object.fromEntries(
        Object.entries(eventToAttributes(rest)).filter(
          ([, v]) => typeof v === 'string' && (v as string).length <= 100,
        ),
      );
      // 150 units: over 200 bytes in UTF-8, under the 256-unit cap, so kept whole (no cut).
      const bytes = serialize(
        records([strings, strings, strings] as Attributes[], { 'service.name': '\u00e9'.repeat(150) }),
      );
      const before = droppedValues.count;
      const decoded = decodeLogs(bytes, format, small);
      const events = decoded.map((r) => logRecordToEvent(r));
      expect(events.map((e) => e?.service)).toEqual(Array(3).fill('\u00e9'.repeat(150)));
      // Nothing of any event was dropped or cut: the resource's drop is taken back, once.
      expect(droppedValues.count - before).toBe(0);
    });
  }
});

// A record with no name is read when it carries llmsec.event.id (docs/formats.md): given as a
// number (its decimal text, 88e67b1) or as a string over max_string_bytes (kept cut, 9d169ab), it
// carries one, as it does in a record named llmsec.<category>.
describe('a record without a name carrying llmsec.event.id', () => {
  const fields = (id: unknown) => [
    { key: 'llmsec.event.id', value: id },
    { key: 'llmsec.event.category', value: { stringValue: 'guardrail_block' } },
    { key: 'llmsec.event.severity', value: { stringValue: 'warning' } },
    { key: 'llmsec.event.timestamp', value: { stringValue: '2026-11-22T10:00:00.000Z' } },
    { key: 'user.id', value: { stringValue: 'alice' } },
  ];
  const decode = (id: unknown) => {
    const body = { resourceLogs: [{ scopeLogs: [{ logRecords: [{ attributes: fields(id) }] }] }] };
    return logRecordToEvent(decodeLogs(Buffer.from(JSON.stringify(body)), 'json', DEFAULT_DECODE_LIMITS)[0]!);
  };

  it('is read with an id given as a number, as a named record is', () => {
    expect(decode({ intValue: '42' })?.event_id).toBe('42');
  });

  it('is read with an id over max_string_bytes, cut, as a named record is', () => {
    expect(decode({ stringValue: 'e'.repeat(70_000) })?.event_id).toBe('e'.repeat(256));
  });

  it('is not read with an id of another kind, or none', () => {
    expect(decode({ boolValue: true })).toBeUndefined();
    expect(decode({})).toBeUndefined();
  });
});
