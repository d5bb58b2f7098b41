// Decoder for opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest (protobuf), a
// schema-specific reader over opentelemetry/proto/logs/v1/logs.proto: one pass, caps checked
// as it goes. Field numbers are those of the opentelemetry-proto files.
import { OtlpDecodeError, type ResolvedDecodeLimits } from './limits.ts';
import {
  readAnyValue,
  readKeyValue,
  readResource,
  readScopeName,
  tooManyAttributes,
} from './proto-common.ts';
import { forgetDropped, overCapLogRecord, overCapMessage, rejectFrom } from './over-cap.ts';
import { droppedValues } from './dropped-values.ts';
import { ProtoReader, WT_I32, WT_I64, WT_LEN, WT_VARINT, expectWireType } from './proto-reader.ts';
import type { AttrValue, Attributes, DecodedLogRecord } from './types.ts';

const EMPTY: Attributes = Object.freeze({}) as Attributes;

/**
 * ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1 } → one DecodedLogRecord
 * per LogRecord. The resource attribute object is shared by the records of one ResourceLogs:
 * treat decoded records as read-only.
 */
export function decodeLogsProto(bytes: Uint8Array, limits: ResolvedDecodeLimits): DecodedLogRecord[] {
  const r = new ProtoReader(bytes, limits);
  const out: DecodedLogRecord[] = [];
  const end = r.length;
  while (r.pos < end) {
    const tag = r.uint32(end);
    if (tag >>> 3 === 1) {
      expectWireType(tag & 7, WT_LEN, 'ExportLogsServiceRequest.resource_logs');
      readResourceLogs(r, r.lengthEnd(end), out);
    } else {
      r.skip(tag & 7, end);
    }
  }
  return out;
}

/** ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; ... }. */
function readResourceLogs(r: ProtoReader, end: number, out: DecodedLogRecord[]): void {
  const first = out.length;
  const droppedBefore = droppedValues.count;
  let resource: Attributes = EMPTY;
  let overCap: string | undefined;
  while (r.pos < end) {
    const tag = r.uint32(end);
    const field = tag >>> 3;
    if (field === 1) {
      expectWireType(tag & 7, WT_LEN, 'ResourceLogs.resource');
      const resourceEnd = r.lengthEnd(end);
      try {
        resource = readResource(r, resourceEnd);
      } catch (err) {
        // Every record under it is rejected, the resource's siblings taken (over-cap.ts).
        overCap = overCapMessage(err);
        r.pos = resourceEnd;
        r.cut = undefined;
      }
    } else if (field === 2) {
      expectWireType(tag & 7, WT_LEN, 'ResourceLogs.scope_logs');
      readScopeLogs(r, r.lengthEnd(end), out);
    } else {
      r.skip(tag & 7, end);
    }
  }
  // The resource may follow the records on the wire: set it once the message is read.
  if (overCap !== undefined) rejectFrom(out, first, overCapLogRecord, `resource: ${overCap}`, droppedBefore);
  else if (resource !== EMPTY) for (let i = first; i < out.length; i++) out[i]!.resource = resource;
}

/** ScopeLogs { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; ... }. */
function readScopeLogs(r: ProtoReader, end: number, out: DecodedLogRecord[]): void {
  const first = out.length;
  const droppedBefore = droppedValues.count;
  let scope = '';
  let overCap: string | undefined;
  while (r.pos < end) {
    const tag = r.uint32(end);
    const field = tag >>> 3;
    if (field === 2) {
      expectWireType(tag & 7, WT_LEN, 'ScopeLogs.log_records');
      if (out.length >= r.limits.maxRecords) {
        throw new OtlpDecodeError(`more than maxRecords (${r.limits.maxRecords}) log records`);
      }
      const recordEnd = r.lengthEnd(end);
      const dropped = droppedValues.count;
      try {
        out.push(readLogRecord(r, recordEnd));
      } catch (err) {
        // This record alone is rejected; decoding goes on after it (over-cap.ts).
        out.push(overCapLogRecord(overCapMessage(err)));
        r.pos = recordEnd;
        r.cut = undefined;
        forgetDropped(dropped);
      }
    } else if (field === 1) {
      expectWireType(tag & 7, WT_LEN, 'ScopeLogs.scope');
      const scopeEnd = r.lengthEnd(end);
      try {
        scope = readScopeName(r, scopeEnd);
      } catch (err) {
        overCap = overCapMessage(err);
        r.pos = scopeEnd;
      }
    } else {
      r.skip(tag & 7, end);
    }
  }
  if (overCap !== undefined) rejectFrom(out, first, overCapLogRecord, `scope: ${overCap}`, droppedBefore);
  else if (scope !== '') for (let i = first; i < out.length; i++) out[i]!.scope = scope;
}

/**
 * LogRecord { fixed64 time_unix_nano = 1; SeverityNumber severity_number = 2;
 * string severity_text = 3; AnyValue body = 5; repeated KeyValue attributes = 6;
 * uint32 dropped_attributes_count = 7; fixed32 flags = 8; bytes trace_id = 9;
 * bytes span_id = 10; fixed64 observed_time_unix_nano = 11; string event_name = 12 }.
 */
function readLogRecord(r: ProtoReader, end: number): DecodedLogRecord {
  let time = 0;
  let observed = 0;
  let severityNumber = 0;
  let body: AttrValue = null;
  const attributes: Attributes = {};
  let attrCount = 0;
  let traceId = '';
  let spanId = '';
  let eventName = '';
  while (r.pos < end) {
    const tag = r.uint32(end);
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 6:
        expectWireType(wt, WT_LEN, 'LogRecord.attributes');
        if (++attrCount > r.limits.maxAttributes) throw tooManyAttributes(r.limits.maxAttributes);
        readKeyValue(r, r.lengthEnd(end), attributes, 1);
        break;
      case 1:
        expectWireType(wt, WT_I64, 'LogRecord.time_unix_nano');
        time = r.fixed64Millis(end);
        break;
      case 11:
        expectWireType(wt, WT_I64, 'LogRecord.observed_time_unix_nano');
        observed = r.fixed64Millis(end);
        break;
      case 2:
        expectWireType(wt, WT_VARINT, 'LogRecord.severity_number');
        severityNumber = r.uint32(end) | 0;
        break;
      case 5: {
        expectWireType(wt, WT_LEN, 'LogRecord.body');
        const bodyEnd = r.lengthEnd(end);
        body = readAnyValue(r, bodyEnd, 1);
        break;
      }
      case 9:
        expectWireType(wt, WT_LEN, 'LogRecord.trace_id');
        traceId = r.id(end, 16);
        break;
      case 10:
        expectWireType(wt, WT_LEN, 'LogRecord.span_id');
        spanId = r.id(end, 8);
        break;
      case 12:
        expectWireType(wt, WT_LEN, 'LogRecord.event_name');
        eventName = r.name(end);
        break;
      case 8:
        expectWireType(wt, WT_I32, 'LogRecord.flags');
        r.skip(wt, end);
        break;
      default:
        // severity_text (3), dropped_attributes_count (7) and fields added after this reader.
        r.skip(wt, end);
    }
  }
  if (eventName === '') {
    const attr = attributes['event.name'];
    if (typeof attr === 'string') eventName = attr;
  }
  return {
    timeMs: time !== 0 ? time : observed,
    eventName,
    severityNumber,
    body,
    attributes,
    traceId,
    spanId,
    resource: EMPTY,
    scope: '',
  };
}
