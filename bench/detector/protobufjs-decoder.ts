// The library alternative to the detector's schema-specific reader: protobufjs over the same
// message subset of opentelemetry-proto (logs.proto, common.proto, resource.proto), decoding an
// ExportLogsServiceRequest and mapping it into the same DecodedLogRecord objects, so the two
// rows of the benchmark produce identical output (checked before timing).
import protobuf from 'protobufjs';
import type { AttrValue, Attributes, DecodedLogRecord } from '../../packages/detector/src/otlp/types.ts';

const root = protobuf.parse(`
  syntax = "proto3";
  package otlp;
  message AnyValue {
    oneof value {
      string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
      ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7;
    }
  }
  message ArrayValue { repeated AnyValue values = 1; }
  message KeyValueList { repeated KeyValue values = 1; }
  message KeyValue { string key = 1; AnyValue value = 2; }
  message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
  message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
  message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
  message ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; string schema_url = 3; }
  message ScopeLogs { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; string schema_url = 3; }
  message LogRecord {
    fixed64 time_unix_nano = 1; fixed64 observed_time_unix_nano = 11; int32 severity_number = 2;
    string severity_text = 3; AnyValue body = 5; repeated KeyValue attributes = 6;
    uint32 dropped_attributes_count = 7; fixed32 flags = 8; bytes trace_id = 9; bytes span_id = 10;
    string event_name = 12;
  }
`).root;

const Request = root.lookupType('otlp.ExportLogsServiceRequest');

interface Long {
  high: number;
  low: number;
  toNumber(): number;
  toString(): string;
}
type Int64 = number | Long;

interface PAnyValue {
  value?: string;
  stringValue?: string;
  boolValue?: boolean;
  intValue?: Int64;
  doubleValue?: number;
  arrayValue?: { values: PAnyValue[] };
  kvlistValue?: { values: PKeyValue[] };
  bytesValue?: Uint8Array;
}
interface PKeyValue {
  key: string;
  value?: PAnyValue;
}
interface PLogRecord {
  timeUnixNano: Int64;
  observedTimeUnixNano: Int64;
  severityNumber: number;
  body?: PAnyValue;
  attributes: PKeyValue[];
  traceId: Uint8Array;
  spanId: Uint8Array;
  eventName: string;
}
interface PRequest {
  resourceLogs: {
    resource?: { attributes: PKeyValue[] };
    scopeLogs: { scope?: { name: string }; logRecords: PLogRecord[] }[];
  }[];
}

const num = (v: Int64): number => (typeof v === 'number' ? v : v.toNumber());

/** fixed64 ns → ms, exact for whole milliseconds (the same arithmetic as the reader's). */
function millis(v: Int64): number {
  if (typeof v === 'number') return v / 1e6;
  const hi = v.high >>> 0;
  return hi * 4294 + (hi * 967296 + (v.low >>> 0)) / 1e6;
}

function int64(v: Int64): number | string {
  const n = num(v);
  return Number.isSafeInteger(n) ? n : v.toString();
}

function anyValue(v: PAnyValue | undefined): AttrValue {
  if (v === undefined || v === null) return null;
  switch (v.value) {
    case 'stringValue':
      return v.stringValue!;
    case 'boolValue':
      return v.boolValue!;
    case 'intValue':
      return int64(v.intValue!);
    case 'doubleValue':
      return v.doubleValue!;
    case 'arrayValue':
      return v.arrayValue!.values.map(anyValue);
    case 'kvlistValue':
      return attributes(v.kvlistValue!.values);
    case 'bytesValue':
      return v.bytesValue!;
    default:
      return null;
  }
}

function attributes(list: PKeyValue[]): Attributes {
  const out: Attributes = {};
  for (const kv of list) out[kv.key] = anyValue(kv.value);
  return out;
}

function hexId(bytes: Uint8Array, size: number): string {
  if (bytes.length !== size || bytes.every((b) => b === 0)) return '';
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function decodeLogsWithProtobufjs(bytes: Uint8Array): DecodedLogRecord[] {
  const req = Request.decode(bytes) as unknown as PRequest;
  const out: DecodedLogRecord[] = [];
  for (const rl of req.resourceLogs) {
    const resource = rl.resource ? attributes(rl.resource.attributes) : {};
    for (const sl of rl.scopeLogs) {
      const scope = sl.scope?.name ?? '';
      for (const lr of sl.logRecords) {
        const attrs = attributes(lr.attributes);
        let eventName = lr.eventName;
        if (eventName === '' && typeof attrs['event.name'] === 'string') eventName = attrs['event.name'];
        const time = millis(lr.timeUnixNano);
        out.push({
          timeMs: time !== 0 ? time : millis(lr.observedTimeUnixNano),
          eventName,
          severityNumber: lr.severityNumber,
          body: anyValue(lr.body),
          attributes: attrs,
          traceId: hexId(lr.traceId, 16),
          spanId: hexId(lr.spanId, 8),
          resource,
          scope,
        });
      }
    }
  }
  return out;
}
