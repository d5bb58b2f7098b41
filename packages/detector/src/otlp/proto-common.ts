// Decoders for opentelemetry/proto/common/v1/common.proto and resource/v1/resource.proto
// (the subset the detector reads). Field numbers are those of the opentelemetry-proto files.
import { DROPPED_OTHER_KIND, noteCut, withItemCuts } from './cut-values.ts';
import { droppedValues } from './dropped-values.ts';
import { OtlpRecordOverCapError } from './limits.ts';
import { ProtoReader, WT_I64, WT_LEN, WT_VARINT, expectWireType } from './proto-reader.ts';
import type { AttrValue, Attributes } from './types.ts';

/** Sets attrs[key] without letting a `__proto__` key change the object's prototype. */
export function setAttr(attrs: Record<string, AttrValue>, key: string, value: AttrValue): void {
  if (key === '__proto__') {
    Object.defineProperty(attrs, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    attrs[key] = value;
  }
}

/** Rejects the record it is in (over-cap.ts), not the request. */
export function tooManyAttributes(max: number): OtlpRecordOverCapError {
  return new OtlpRecordOverCapError(`more than maxAttributes (${max}) attributes in one list`);
}

/**
 * AnyValue { string_value = 1; bool_value = 2; int_value = 3; double_value = 4;
 * array_value = 5; kvlist_value = 6; bytes_value = 7 } (a oneof: the last one present wins).
 * `depth` is the nesting level of this value (1 for an attribute's own value).
 */
export function readAnyValue(r: ProtoReader, end: number, depth: number): AttrValue {
  if (depth > r.limits.maxDepth) {
    // Dropped (null, counted), not the request, as a value over maxStringBytes: a 400 would make
    // the Collector drop every record batched with it, and a log line's metadata that deep is
    // dropped the same way (core's caps). Skipped whole, unread: O(1) whatever it holds.
    r.pos = end;
    r.cut = undefined;
    droppedValues.count++;
    return null;
  }
  let value: AttrValue = null;
  // The value with its over-cap strings cut, not dropped (cut-values.ts): left in r.cut.
  let cut: AttrValue | undefined;
  while (r.pos < end) {
    const tag = r.uint32(end);
    const field = tag >>> 3;
    const wt = tag & 7;
    cut = undefined; // a oneof: the last member present wins, and its cut
    switch (field) {
      case 1:
        expectWireType(wt, WT_LEN, 'AnyValue.string_value');
        value = r.stringValue(end);
        cut = r.cut;
        break;
      case 2:
        expectWireType(wt, WT_VARINT, 'AnyValue.bool_value');
        value = r.uint32(end) !== 0;
        break;
      case 3:
        expectWireType(wt, WT_VARINT, 'AnyValue.int_value');
        value = r.int64(end);
        break;
      case 4:
        expectWireType(wt, WT_I64, 'AnyValue.double_value');
        value = r.double(end);
        break;
      case 5:
        expectWireType(wt, WT_LEN, 'AnyValue.array_value');
        value = readArrayValue(r, r.lengthEnd(end), depth);
        cut = r.cut;
        break;
      case 6:
        expectWireType(wt, WT_LEN, 'AnyValue.kvlist_value');
        value = readKeyValueList(r, r.lengthEnd(end), depth);
        break;
      case 7:
        expectWireType(wt, WT_LEN, 'AnyValue.bytes_value');
        value = r.bytesValue(end);
        if (value === null) cut = DROPPED_OTHER_KIND; // over maxStringBytes
        break;
      default:
        r.skip(wt, end);
    }
  }
  r.cut = cut;
  return value;
}

/** ArrayValue { repeated AnyValue values = 1 }; null past maxAttributes values. */
function readArrayValue(r: ProtoReader, end: number, depth: number): AttrValue[] | null {
  const out: AttrValue[] = [];
  const max = r.limits.maxAttributes;
  let itemCuts: Map<number, AttrValue> | undefined;
  while (r.pos < end) {
    const tag = r.uint32(end);
    if (tag >>> 3 === 1) {
      expectWireType(tag & 7, WT_LEN, 'ArrayValue.values');
      if (out.length >= max) {
        // The array dropped (null, counted), not the request, as a log line's metadata array
        // past core's metadataArrayItems is: the rest skipped unread.
        r.pos = end;
        r.cut = DROPPED_OTHER_KIND;
        droppedValues.count++;
        return null;
      }
      const valueEnd = r.lengthEnd(end);
      out.push(readAnyValue(r, valueEnd, depth + 1));
      const cut = r.cut;
      if (cut !== undefined && cut !== DROPPED_OTHER_KIND) (itemCuts ??= new Map()).set(out.length - 1, cut);
      r.pos = valueEnd;
    } else {
      r.skip(tag & 7, end);
    }
  }
  r.pos = end;
  // The array with its items' cuts (cut-values.ts), for the caller (readAnyValue) to take.
  r.cut = withItemCuts(out, itemCuts);
  return out;
}

/** KeyValueList { repeated KeyValue values = 1 }, as a plain object. */
function readKeyValueList(r: ProtoReader, end: number, depth: number): Attributes {
  const out: Attributes = {};
  let count = 0;
  while (r.pos < end) {
    const tag = r.uint32(end);
    if (tag >>> 3 === 1) {
      expectWireType(tag & 7, WT_LEN, 'KeyValueList.values');
      if (++count > r.limits.maxAttributes) throw tooManyAttributes(r.limits.maxAttributes);
      readKeyValue(r, r.lengthEnd(end), out, depth + 1);
    } else {
      r.skip(tag & 7, end);
    }
  }
  r.pos = end;
  return out;
}

/**
 * KeyValue { string key = 1; AnyValue value = 2 }, stored into `into`. The caller counts
 * entries against maxAttributes (one count per KeyValue on the wire, repeated keys included).
 */
export function readKeyValue(r: ProtoReader, end: number, into: Attributes, depth: number): void {
  let key: string | undefined = '';
  let value: AttrValue = null;
  let cut: AttrValue | undefined;
  while (r.pos < end) {
    const tag = r.uint32(end);
    const field = tag >>> 3;
    if (field === 1) {
      expectWireType(tag & 7, WT_LEN, 'KeyValue.key');
      key = r.key(end);
    } else if (field === 2) {
      expectWireType(tag & 7, WT_LEN, 'KeyValue.value');
      const valueEnd = r.lengthEnd(end);
      value = readAnyValue(r, valueEnd, depth);
      cut = r.cut;
      r.pos = valueEnd;
    } else {
      r.skip(tag & 7, end);
    }
  }
  if (key === undefined) return; // over maxStringBytes: the attribute dropped (ProtoReader.key)
  setAttr(into, key, value);
  noteCut(into, key, value, cut);
}

/** Resource { repeated KeyValue attributes = 1; ... }: its attributes. */
export function readResource(r: ProtoReader, end: number): Attributes {
  const attrs: Attributes = {};
  let count = 0;
  while (r.pos < end) {
    const tag = r.uint32(end);
    if (tag >>> 3 === 1) {
      expectWireType(tag & 7, WT_LEN, 'Resource.attributes');
      if (++count > r.limits.maxAttributes) throw tooManyAttributes(r.limits.maxAttributes);
      readKeyValue(r, r.lengthEnd(end), attrs, 1);
    } else {
      r.skip(tag & 7, end);
    }
  }
  return attrs;
}

/** InstrumentationScope { string name = 1; ... }: its name. */
export function readScopeName(r: ProtoReader, end: number): string {
  let name = '';
  while (r.pos < end) {
    const tag = r.uint32(end);
    if (tag >>> 3 === 1) {
      expectWireType(tag & 7, WT_LEN, 'InstrumentationScope.name');
      name = r.string(end);
    } else {
      r.skip(tag & 7, end);
    }
  }
  return name;
}
