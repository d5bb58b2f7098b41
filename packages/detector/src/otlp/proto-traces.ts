// Decoder for opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest (protobuf), a
// schema-specific reader over opentelemetry/proto/trace/v1/trace.proto: one pass, caps checked
// as it goes. Field numbers are those of the opentelemetry-proto files.
import { OtlpDecodeError, type ResolvedDecodeLimits } from './limits.ts';
import { readKeyValue, readResource, readScopeName, tooManyAttributes } from './proto-common.ts';
import { droppedValues } from './dropped-values.ts';
import { OtlpRecordOverCapError } from './limits.ts';
import { forgetDropped, overCapMessage, overCapSpan, rejectFrom } from './over-cap.ts';
import { ProtoReader, WT_I64, WT_LEN, WT_VARINT, expectWireType } from './proto-reader.ts';
import type { Attributes, DecodedSpan, DecodedSpanEvent } from './types.ts';

const EMPTY: Attributes = Object.freeze({}) as Attributes;

/** Counts span events across one request (bounded like records: maxRecords in all). */
interface EventBudget {
  events: number;
}

/**
 * ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1 } → one DecodedSpan per
 * Span. The resource attribute object is shared by the spans of one ResourceSpans: treat
 * decoded spans as read-only.
 */
export function decodeTracesProto(bytes: Uint8Array, limits: ResolvedDecodeLimits): DecodedSpan[] {
  const r = new ProtoReader(bytes, limits);
  const out: DecodedSpan[] = [];
  const budget: EventBudget = { events: 0 };
  const end = r.length;
  while (r.pos < end) {
    const tag = r.uint32(end);
    if (tag >>> 3 === 1) {
      expectWireType(tag & 7, WT_LEN, 'ExportTraceServiceRequest.resource_spans');
      readResourceSpans(r, r.lengthEnd(end), out, budget);
    } else {
      r.skip(tag & 7, end);
    }
  }
  return out;
}

/** ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; ... }. */
function readResourceSpans(r: ProtoReader, end: number, out: DecodedSpan[], budget: EventBudget): void {
  const first = out.length;
  const droppedBefore = droppedValues.count;
  let resource: Attributes = EMPTY;
  let overCap: string | undefined;
  while (r.pos < end) {
    const tag = r.uint32(end);
    const field = tag >>> 3;
    if (field === 1) {
      expectWireType(tag & 7, WT_LEN, 'ResourceSpans.resource');
      const resourceEnd = r.lengthEnd(end);
      try {
        resource = readResource(r, resourceEnd);
      } catch (err) {
        // Every span under it is rejected, the resource's siblings taken (over-cap.ts).
        overCap = overCapMessage(err);
        r.pos = resourceEnd;
        r.cut = undefined;
      }
    } else if (field === 2) {
      expectWireType(tag & 7, WT_LEN, 'ResourceSpans.scope_spans');
      readScopeSpans(r, r.lengthEnd(end), out, budget);
    } else {
      r.skip(tag & 7, end);
    }
  }
  if (overCap !== undefined) rejectFrom(out, first, overCapSpan, `resource: ${overCap}`, droppedBefore);
  else if (resource !== EMPTY) for (let i = first; i < out.length; i++) out[i]!.resource = resource;
}

/** ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; ... }. */
function readScopeSpans(r: ProtoReader, end: number, out: DecodedSpan[], budget: EventBudget): void {
  const first = out.length;
  const droppedBefore = droppedValues.count;
  let scope = '';
  let overCap: string | undefined;
  while (r.pos < end) {
    const tag = r.uint32(end);
    const field = tag >>> 3;
    if (field === 2) {
      expectWireType(tag & 7, WT_LEN, 'ScopeSpans.spans');
      if (out.length >= r.limits.maxRecords) {
        throw new OtlpDecodeError(`more than maxRecords (${r.limits.maxRecords}) spans`);
      }
      const spanEnd = r.lengthEnd(end);
      const dropped = droppedValues.count;
      try {
        out.push(readSpan(r, spanEnd, budget));
      } catch (err) {
        // This span alone is rejected; decoding goes on after it (over-cap.ts). Its events
        // read so far stay in the request's budget: the cap on work done, not on spans taken.
        out.push(overCapSpan(overCapMessage(err)));
        r.pos = spanEnd;
        r.cut = undefined;
        forgetDropped(dropped);
      }
    } else if (field === 1) {
      expectWireType(tag & 7, WT_LEN, 'ScopeSpans.scope');
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
  if (overCap !== undefined) rejectFrom(out, first, overCapSpan, `scope: ${overCap}`, droppedBefore);
  else if (scope !== '') for (let i = first; i < out.length; i++) out[i]!.scope = scope;
}

/**
 * Span { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3;
 * bytes parent_span_id = 4; string name = 5; SpanKind kind = 6;
 * fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
 * repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10;
 * repeated Event events = 11; uint32 dropped_events_count = 12; repeated Link links = 13;
 * uint32 dropped_links_count = 14; Status status = 15; fixed32 flags = 16 }.
 */
function readSpan(r: ProtoReader, end: number, budget: EventBudget): DecodedSpan {
  const span: DecodedSpan = {
    traceId: '',
    spanId: '',
    parentSpanId: '',
    name: '',
    kind: 0,
    startMs: 0,
    endMs: 0,
    attributes: {},
    events: [],
    status: { code: 0, message: '' },
    resource: EMPTY,
    scope: '',
  };
  let attrCount = 0;
  const limits = r.limits;
  while (r.pos < end) {
    const tag = r.uint32(end);
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 9:
        expectWireType(wt, WT_LEN, 'Span.attributes');
        if (++attrCount > limits.maxAttributes) throw tooManyAttributes(limits.maxAttributes);
        readKeyValue(r, r.lengthEnd(end), span.attributes, 1);
        break;
      case 11:
        expectWireType(wt, WT_LEN, 'Span.events');
        if (span.events.length >= limits.maxSpanEvents) {
          throw new OtlpRecordOverCapError(
            `more than maxSpanEvents (${limits.maxSpanEvents}) events on one span`,
          );
        }
        if (++budget.events > limits.maxRecords) {
          throw new OtlpDecodeError(`more than maxRecords (${limits.maxRecords}) span events in one request`);
        }
        span.events.push(readEvent(r, r.lengthEnd(end)));
        break;
      case 1:
        expectWireType(wt, WT_LEN, 'Span.trace_id');
        span.traceId = r.id(end, 16);
        break;
      case 2:
        expectWireType(wt, WT_LEN, 'Span.span_id');
        span.spanId = r.id(end, 8);
        break;
      case 4:
        expectWireType(wt, WT_LEN, 'Span.parent_span_id');
        span.parentSpanId = r.id(end, 8);
        break;
      case 5:
        expectWireType(wt, WT_LEN, 'Span.name');
        span.name = r.string(end);
        break;
      case 6:
        expectWireType(wt, WT_VARINT, 'Span.kind');
        span.kind = r.uint32(end) | 0;
        break;
      case 7:
        expectWireType(wt, WT_I64, 'Span.start_time_unix_nano');
        span.startMs = r.fixed64Millis(end);
        break;
      case 8:
        expectWireType(wt, WT_I64, 'Span.end_time_unix_nano');
        span.endMs = r.fixed64Millis(end);
        break;
      case 15:
        expectWireType(wt, WT_LEN, 'Span.status');
        span.status = readStatus(r, r.lengthEnd(end));
        break;
      default:
        // trace_state, dropped counts, links, flags and fields added after this reader.
        r.skip(wt, end);
    }
  }
  return span;
}

/** Span.Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; ... }. */
function readEvent(r: ProtoReader, end: number): DecodedSpanEvent {
  const event: DecodedSpanEvent = { timeMs: 0, name: '', attributes: {} };
  let attrCount = 0;
  while (r.pos < end) {
    const tag = r.uint32(end);
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 3:
        expectWireType(wt, WT_LEN, 'Span.Event.attributes');
        if (++attrCount > r.limits.maxAttributes) throw tooManyAttributes(r.limits.maxAttributes);
        readKeyValue(r, r.lengthEnd(end), event.attributes, 1);
        break;
      case 1:
        expectWireType(wt, WT_I64, 'Span.Event.time_unix_nano');
        event.timeMs = r.fixed64Millis(end);
        break;
      case 2:
        expectWireType(wt, WT_LEN, 'Span.Event.name');
        event.name = r.name(end);
        break;
      default:
        r.skip(wt, end);
    }
  }
  return event;
}

/** Status { reserved 1; string message = 2; StatusCode code = 3 }. */
function readStatus(r: ProtoReader, end: number): { code: number; message: string } {
  const status = { code: 0, message: '' };
  while (r.pos < end) {
    const tag = r.uint32(end);
    const field = tag >>> 3;
    if (field === 2) {
      expectWireType(tag & 7, WT_LEN, 'Status.message');
      status.message = r.string(end);
    } else if (field === 3) {
      expectWireType(tag & 7, WT_VARINT, 'Status.code');
      status.code = r.uint32(end) | 0;
    } else {
      r.skip(tag & 7, end);
    }
  }
  return status;
}
