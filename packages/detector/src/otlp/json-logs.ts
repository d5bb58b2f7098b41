// OTLP/JSON ExportLogsServiceRequest → DecodedLogRecord[] (see json-common.ts for the mapping).
import { OtlpDecodeError, type ResolvedDecodeLimits } from './limits.ts';
import {
  isObject,
  jsonAnyValue,
  jsonArray,
  jsonAttributes,
  jsonEnum,
  jsonId,
  jsonName,
  jsonNanosToMillis,
  jsonResource,
  jsonScopeName,
  type JsonObject,
} from './json-common.ts';
import { droppedValues } from './dropped-values.ts';
import { checkNestedKey, checkRequestKey } from './json-misnamed.ts';
import { forgetDropped, overCapLogRecord, overCapMessage } from './over-cap.ts';
import type { DecodedLogRecord } from './types.ts';

/** Decodes a parsed OTLP/JSON logs request (the value of JSON.parse on the body). */
export function decodeLogsJson(root: unknown, limits: ResolvedDecodeLimits): DecodedLogRecord[] {
  if (!isObject(root)) throw new OtlpDecodeError('ExportLogsServiceRequest must be a JSON object');
  checkRequestKey(root, 'resourceLogs', 'ExportLogsServiceRequest');
  const out: DecodedLogRecord[] = [];
  for (const rl of jsonArray(root, 'resourceLogs', 'ExportLogsServiceRequest')) {
    if (!isObject(rl)) throw new OtlpDecodeError('ResourceLogs must be an object');
    checkNestedKey(rl, 'scopeLogs', 'ResourceLogs');
    // A resource or scope past a cap rejects the records under it, not the request (over-cap.ts).
    let resource: DecodedLogRecord['resource'] = {};
    let resourceOverCap: string | undefined;
    const droppedBefore = droppedValues.count;
    try {
      resource = jsonResource(rl, 'ResourceLogs', limits);
    } catch (err) {
      resourceOverCap = `resource: ${overCapMessage(err)}`;
      forgetDropped(droppedBefore); // its records are rejected: none of its values counted
    }
    for (const sl of jsonArray(rl, 'scopeLogs', 'ResourceLogs')) {
      if (!isObject(sl)) throw new OtlpDecodeError('ScopeLogs must be an object');
      checkNestedKey(sl, 'logRecords', 'ScopeLogs');
      let scope = '';
      let overCap = resourceOverCap;
      try {
        scope = jsonScopeName(sl, 'ScopeLogs', limits);
      } catch (err) {
        overCap ??= `scope: ${overCapMessage(err)}`;
      }
      const records = jsonArray(sl, 'logRecords', 'ScopeLogs');
      if (out.length + records.length > limits.maxRecords) {
        throw new OtlpDecodeError(`more than maxRecords (${limits.maxRecords}) log records`);
      }
      for (const lr of records) {
        if (!isObject(lr)) throw new OtlpDecodeError('LogRecord must be an object');
        if (overCap !== undefined) {
          out.push(overCapLogRecord(overCap));
          continue;
        }
        const dropped = droppedValues.count;
        try {
          out.push(jsonLogRecord(lr, resource, scope, limits));
        } catch (err) {
          // This record alone is rejected (over-cap.ts); a wrong shape still fails the request.
          out.push(overCapLogRecord(overCapMessage(err)));
          forgetDropped(dropped);
        }
      }
    }
  }
  return out;
}

function jsonLogRecord(
  lr: JsonObject,
  resource: DecodedLogRecord['resource'],
  scope: string,
  limits: ResolvedDecodeLimits,
): DecodedLogRecord {
  const attributes = jsonAttributes(lr, 'attributes', 'LogRecord', limits);
  let eventName = jsonName(lr, 'eventName', 'LogRecord', limits);
  if (eventName === '') {
    const attr = attributes['event.name'];
    if (typeof attr === 'string') eventName = attr;
  }
  const time = jsonNanosToMillis(lr, 'timeUnixNano', 'LogRecord');
  return {
    timeMs: time !== 0 ? time : jsonNanosToMillis(lr, 'observedTimeUnixNano', 'LogRecord'),
    eventName,
    severityNumber: jsonEnum(lr, 'severityNumber', 'LogRecord'),
    body: jsonAnyValue(lr.body, 1, limits),
    attributes,
    traceId: jsonId(lr, 'traceId', 'LogRecord', 32),
    spanId: jsonId(lr, 'spanId', 'LogRecord', 16),
    resource,
    scope,
  };
}
