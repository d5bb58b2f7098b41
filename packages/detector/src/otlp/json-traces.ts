// OTLP/JSON ExportTraceServiceRequest → DecodedSpan[] (see json-common.ts for the mapping).
import { OtlpDecodeError, type ResolvedDecodeLimits } from './limits.ts';
import {
  isObject,
  jsonArray,
  jsonAttributes,
  jsonEnum,
  jsonId,
  jsonName,
  jsonNanosToMillis,
  jsonObject,
  jsonResource,
  jsonScopeName,
  jsonString,
  type JsonObject,
} from './json-common.ts';
import { droppedValues } from './dropped-values.ts';
import { checkNestedKey, checkRequestKey } from './json-misnamed.ts';
import { OtlpRecordOverCapError } from './limits.ts';
import { forgetDropped, overCapMessage, overCapSpan } from './over-cap.ts';
import type { DecodedSpan, DecodedSpanEvent } from './types.ts';

/** Decodes a parsed OTLP/JSON traces request (the value of JSON.parse on the body). */
export function decodeTracesJson(root: unknown, limits: ResolvedDecodeLimits): DecodedSpan[] {
  if (!isObject(root)) throw new OtlpDecodeError('ExportTraceServiceRequest must be a JSON object');
  checkRequestKey(root, 'resourceSpans', 'ExportTraceServiceRequest');
  const out: DecodedSpan[] = [];
  const budget = { events: 0 };
  for (const rs of jsonArray(root, 'resourceSpans', 'ExportTraceServiceRequest')) {
    if (!isObject(rs)) throw new OtlpDecodeError('ResourceSpans must be an object');
    checkNestedKey(rs, 'scopeSpans', 'ResourceSpans');
    // A resource or scope past a cap rejects the spans under it, not the request (over-cap.ts).
    let resource: DecodedSpan['resource'] = {};
    let resourceOverCap: string | undefined;
    const droppedBefore = droppedValues.count;
    try {
      resource = jsonResource(rs, 'ResourceSpans', limits);
    } catch (err) {
      resourceOverCap = `resource: ${overCapMessage(err)}`;
      forgetDropped(droppedBefore); // its records are rejected: none of its values counted
    }
    for (const ss of jsonArray(rs, 'scopeSpans', 'ResourceSpans')) {
      if (!isObject(ss)) throw new OtlpDecodeError('ScopeSpans must be an object');
      let scope = '';
      let overCap = resourceOverCap;
      try {
        scope = jsonScopeName(ss, 'ScopeSpans', limits);
      } catch (err) {
        overCap ??= `scope: ${overCapMessage(err)}`;
      }
      const spans = jsonArray(ss, 'spans', 'ScopeSpans');
      if (out.length + spans.length > limits.maxRecords) {
        throw new OtlpDecodeError(`more than maxRecords (${limits.maxRecords}) spans`);
      }
      for (const s of spans) {
        if (!isObject(s)) throw new OtlpDecodeError('Span must be an object');
        if (overCap !== undefined) {
          out.push(overCapSpan(overCap));
          continue;
        }
        const dropped = droppedValues.count;
        try {
          out.push(jsonSpan(s, resource, scope, budget, limits));
        } catch (err) {
          // This span alone is rejected (over-cap.ts); a wrong shape still fails the request.
          out.push(overCapSpan(overCapMessage(err)));
          forgetDropped(dropped);
        }
      }
    }
  }
  return out;
}

function jsonSpan(
  s: JsonObject,
  resource: DecodedSpan['resource'],
  scope: string,
  budget: { events: number },
  limits: ResolvedDecodeLimits,
): DecodedSpan {
  const rawEvents = jsonArray(s, 'events', 'Span');
  if (rawEvents.length > limits.maxSpanEvents) {
    throw new OtlpRecordOverCapError(`more than maxSpanEvents (${limits.maxSpanEvents}) events on one span`);
  }
  budget.events += rawEvents.length;
  if (budget.events > limits.maxRecords) {
    throw new OtlpDecodeError(`more than maxRecords (${limits.maxRecords}) span events in one request`);
  }
  const events: DecodedSpanEvent[] = [];
  for (const e of rawEvents) {
    if (!isObject(e)) throw new OtlpDecodeError('Span.Event must be an object');
    events.push({
      timeMs: jsonNanosToMillis(e, 'timeUnixNano', 'Span.Event'),
      name: jsonName(e, 'name', 'Span.Event', limits),
      attributes: jsonAttributes(e, 'attributes', 'Span.Event', limits),
    });
  }
  const status = jsonObject(s, 'status', 'Span');
  return {
    traceId: jsonId(s, 'traceId', 'Span', 32),
    spanId: jsonId(s, 'spanId', 'Span', 16),
    parentSpanId: jsonId(s, 'parentSpanId', 'Span', 16),
    name: jsonString(s, 'name', 'Span', limits),
    kind: jsonEnum(s, 'kind', 'Span'),
    startMs: jsonNanosToMillis(s, 'startTimeUnixNano', 'Span'),
    endMs: jsonNanosToMillis(s, 'endTimeUnixNano', 'Span'),
    attributes: jsonAttributes(s, 'attributes', 'Span', limits),
    events,
    status: {
      code: status === undefined ? 0 : jsonEnum(status, 'code', 'Status'),
      message: status === undefined ? '' : jsonString(status, 'message', 'Status', limits),
    },
    resource,
    scope,
  };
}
