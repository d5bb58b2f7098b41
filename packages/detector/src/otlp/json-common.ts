// OTLP/JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) for the common
// messages. It differs from the proto3 JSON mapping: trace and span ids are hex strings, enums
// are integers, 64-bit integers may be strings or numbers, keys are lowerCamelCase only, and
// unknown fields are ignored. Wrong shapes for the fields we read are OtlpDecodeErrors.
import { Buffer } from 'node:buffer';
import { DROPPED_OTHER_KIND, PREFIX_UNITS, noteCut, withItemCuts } from './cut-values.ts';
import { droppedValues } from './dropped-values.ts';
import { OtlpDecodeError, OtlpRecordOverCapError, type ResolvedDecodeLimits } from './limits.ts';
import { setAttr, tooManyAttributes } from './proto-common.ts';
import type { AttrValue, Attributes } from './types.ts';

export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An optional repeated field: absent/null → [], an array → itself, anything else → error. */
export function jsonArray(obj: JsonObject, key: string, where: string): readonly unknown[] {
  const v = obj[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new OtlpDecodeError(`${where}.${key} must be an array`);
  return v;
}

/** An optional message field: absent/null → undefined, an object → itself, else error. */
export function jsonObject(obj: JsonObject, key: string, where: string): JsonObject | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw new OtlpDecodeError(`${where}.${key} must be an object`);
  return v;
}

export function jsonString(
  obj: JsonObject,
  key: string,
  where: string,
  limits: ResolvedDecodeLimits,
): string {
  const v = obj[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new OtlpDecodeError(`${where}.${key} must be a string`);
  return checkedString(v, limits);
}

/**
 * A log record's eventName or a span event's name: over maxStringBytes, its first units (counted
 * as a dropped value), not a failed request (ProtoReader.name says why).
 */
export function jsonName(obj: JsonObject, key: string, where: string, limits: ResolvedDecodeLimits): string {
  const v = obj[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new OtlpDecodeError(`${where}.${key} must be a string`);
  if (!overCap(v, limits)) return v;
  droppedValues.count++;
  return v.slice(0, PREFIX_UNITS);
}

/** An int32 enum (severity number, span kind, status code): an integer per OTLP/JSON. */
export function jsonEnum(obj: JsonObject, key: string, where: string): number {
  const v = obj[key];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new OtlpDecodeError(`${where}.${key} must be an integer`);
  return v | 0;
}

/**
 * A fixed64 nanosecond timestamp (decimal string or number), in milliseconds. A negative one is 0,
 * OTLP's unknown: OpenTelemetry JS's JSON exporters write a time before 1970 so ("-1000000000"),
 * and refusing it failed the whole request (a 400 the Collector does not retry), every record
 * batched with it lost; an llmsec record's event time is its llmsec.event.timestamp anyway.
 */
export function jsonNanosToMillis(obj: JsonObject, key: string, where: string): number {
  const v = obj[key];
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isFinite(v)) return v > 0 ? v / 1e6 : 0;
  if (typeof v === 'string' && NEGATIVE_NANOS.test(v)) return 0;
  if (typeof v === 'string' && /^\d{1,20}$/.test(v)) {
    // Whole milliseconds and the nanosecond remainder apart, so whole-ms times stay exact.
    if (v.length <= 6) return Number(v) / 1e6;
    return Number(v.slice(0, -6)) + Number(v.slice(-6)) / 1e6;
  }
  throw new OtlpDecodeError(`${where}.${key} must be a non-negative integer (string or number)`);
}

const NEGATIVE_NANOS = /^-\d{1,20}$/;

const ID_HEX = { 16: /^[0-9a-fA-F]{16}$/, 32: /^[0-9a-fA-F]{32}$/ } as const;
const ZERO_ID = /^0+$/;

/** A trace or span id in hex: lowercase, '' when empty, all zero or not of the right length. */
export function jsonId(obj: JsonObject, key: string, where: string, hexLength: 16 | 32): string {
  const v = obj[key];
  if (v === undefined || v === null || v === '') return '';
  if (typeof v !== 'string') throw new OtlpDecodeError(`${where}.${key} must be a hex string`);
  if (!ID_HEX[hexLength].test(v) || ZERO_ID.test(v)) return '';
  return v.toLowerCase();
}

/** A string of a record's own (span name, status message) or its scope's: past the cap, that record is rejected. */
export function checkedString(s: string, limits: ResolvedDecodeLimits): string {
  if (overCap(s, limits)) {
    throw new OtlpRecordOverCapError(`string exceeds maxStringBytes (${limits.maxStringBytes})`);
  }
  return s;
}

/** More than maxStringBytes of UTF-8. */
function overCap(s: string, limits: ResolvedDecodeLimits): boolean {
  // UTF-8 is at most 3 bytes per UTF-16 unit: measure bytes only when the length is in doubt.
  return (
    s.length > limits.maxStringBytes ||
    (s.length * 3 > limits.maxStringBytes && Buffer.byteLength(s) > limits.maxStringBytes)
  );
}

// Decimal digits, any count: past 19 (or 64 with leading zeros) the value is out of range.
const INT64 = /^-?\d+$/;
/**
 * An integer past int64 is a value no protobuf sender can write: its record (or the records
 * under its resource or scope) is rejected alone, as a record past a cap is (over-cap.ts), and
 * the rest of the request taken. It made the whole request a 400, which the Collector does not
 * retry: every other user's record batched with it was lost.
 */
const INT64_RANGE = 'AnyValue.intValue out of int64 range';

function jsonInt64(v: unknown): number | string {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new OtlpDecodeError('AnyValue.intValue must be an integer');
    if (Number.isSafeInteger(v)) return v;
    // Beyond 2^53 a JSON number may already have lost digits; keep the protobuf path's
    // representation (a decimal string) so one int64 decodes alike from both encodings.
    if (v > 9223372036854775807 || v < -9223372036854775808) {
      throw new OtlpRecordOverCapError(INT64_RANGE);
    }
    return BigInt(v).toString();
  }
  if (typeof v === 'string' && INT64.test(v)) {
    if (v.length > 64) throw new OtlpRecordOverCapError(INT64_RANGE);
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
    const big = BigInt(v);
    if (big > 9223372036854775807n || big < -9223372036854775808n) {
      throw new OtlpRecordOverCapError(INT64_RANGE);
    }
    return big.toString();
  }
  throw new OtlpDecodeError('AnyValue.intValue must be an integer (string or number)');
}

function jsonDouble(v: unknown): number {
  if (typeof v === 'number') return v;
  // proto3 JSON spells the non-finite doubles as strings; numbers may be quoted too.
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  if (typeof v === 'string' && v.length <= 32 && v.trim() !== '' && Number.isFinite(Number(v)))
    return Number(v);
  throw new OtlpDecodeError('AnyValue.doubleValue must be a number');
}

/**
 * The last AnyValue decoded with its over-cap strings cut rather than dropped (cut-values.ts), for
 * the caller to take; undefined when it dropped none. As ProtoReader.cut: decoding is synchronous.
 */
let lastCut: AttrValue | undefined;

/** An AnyValue object at nesting level `depth` (1 for an attribute's own value). */
export function jsonAnyValue(v: unknown, depth: number, limits: ResolvedDecodeLimits): AttrValue {
  lastCut = undefined;
  if (depth > limits.maxDepth) {
    // Dropped, not the request (readAnyValue says why); JSON.parse built it, it is not walked.
    droppedValues.count++;
    return null;
  }
  if (v === undefined || v === null) return null;
  if (!isObject(v)) throw new OtlpDecodeError('AnyValue must be an object');
  // A oneof: the first known member present is the value (unknown members are ignored).
  if (v.stringValue !== undefined && v.stringValue !== null) {
    if (typeof v.stringValue !== 'string') throw new OtlpDecodeError('AnyValue.stringValue must be a string');
    // Over the cap: the value is dropped, not the request (ProtoReader.stringValue says why).
    if (!overCap(v.stringValue, limits)) return v.stringValue;
    droppedValues.count++;
    lastCut = v.stringValue.slice(0, PREFIX_UNITS);
    return null;
  }
  if (v.boolValue !== undefined && v.boolValue !== null) {
    if (typeof v.boolValue !== 'boolean') throw new OtlpDecodeError('AnyValue.boolValue must be a boolean');
    return v.boolValue;
  }
  if (v.intValue !== undefined && v.intValue !== null) return jsonInt64(v.intValue);
  if (v.doubleValue !== undefined && v.doubleValue !== null) return jsonDouble(v.doubleValue);
  if (v.arrayValue !== undefined && v.arrayValue !== null) {
    if (!isObject(v.arrayValue)) throw new OtlpDecodeError('AnyValue.arrayValue must be an object');
    const values = jsonArray(v.arrayValue, 'values', 'ArrayValue');
    if (values.length > limits.maxAttributes) {
      // Dropped, not the request (readArrayValue says why).
      droppedValues.count++;
      lastCut = DROPPED_OTHER_KIND;
      return null;
    }
    const out: AttrValue[] = new Array<AttrValue>(values.length);
    let itemCuts: Map<number, AttrValue> | undefined;
    for (let i = 0; i < values.length; i++) {
      out[i] = jsonAnyValue(values[i], depth + 1, limits);
      if (lastCut !== undefined && lastCut !== DROPPED_OTHER_KIND) (itemCuts ??= new Map()).set(i, lastCut);
    }
    lastCut = withItemCuts(out, itemCuts);
    return out;
  }
  if (v.kvlistValue !== undefined && v.kvlistValue !== null) {
    if (!isObject(v.kvlistValue)) throw new OtlpDecodeError('AnyValue.kvlistValue must be an object');
    const list = jsonKeyValues(jsonArray(v.kvlistValue, 'values', 'KeyValueList'), depth + 1, limits);
    lastCut = undefined; // its values' cuts are remembered on the list itself
    return list;
  }
  if (v.bytesValue !== undefined && v.bytesValue !== null) {
    if (typeof v.bytesValue !== 'string')
      throw new OtlpDecodeError('AnyValue.bytesValue must be a base64 string');
    // The cap is on the bytes, as in protobuf, not on their base64 (4/3 as long): a value of
    // 50,000 bytes is kept from either encoding. The text is already held whole (JSON.parse).
    const bytes = Buffer.from(v.bytesValue, 'base64');
    if (bytes.length > limits.maxStringBytes) {
      droppedValues.count++;
      lastCut = DROPPED_OTHER_KIND;
      return null;
    }
    return new Uint8Array(bytes);
  }
  return null;
}

/** `repeated KeyValue` as a plain object; values at nesting level `depth`. */
export function jsonKeyValues(
  list: readonly unknown[],
  depth: number,
  limits: ResolvedDecodeLimits,
): Attributes {
  if (list.length > limits.maxAttributes) throw tooManyAttributes(limits.maxAttributes);
  const out: Attributes = {};
  for (const kv of list) {
    if (!isObject(kv)) throw new OtlpDecodeError('KeyValue must be an object');
    const key = kv.key ?? '';
    if (typeof key !== 'string') throw new OtlpDecodeError('KeyValue.key must be a string');
    // A key over the cap: the attribute dropped, not the request (ProtoReader.key says why).
    if (overCap(key, limits)) {
      droppedValues.count++;
      continue;
    }
    const value = jsonAnyValue(kv.value, depth, limits);
    setAttr(out, key, value);
    noteCut(out, key, value, lastCut);
  }
  lastCut = undefined;
  return out;
}

export function jsonAttributes(
  obj: JsonObject,
  key: string,
  where: string,
  limits: ResolvedDecodeLimits,
): Attributes {
  return jsonKeyValues(jsonArray(obj, key, where), 1, limits);
}

/** Resource.attributes and InstrumentationScope.name of a ResourceX / ScopeX pair. */
export function jsonResource(obj: JsonObject, where: string, limits: ResolvedDecodeLimits): Attributes {
  const resource = jsonObject(obj, 'resource', where);
  return resource === undefined ? {} : jsonAttributes(resource, 'attributes', 'Resource', limits);
}

export function jsonScopeName(obj: JsonObject, where: string, limits: ResolvedDecodeLimits): string {
  const scope = jsonObject(obj, 'scope', where);
  return scope === undefined ? '' : jsonString(scope, 'name', 'InstrumentationScope', limits);
}
