// One entry point for decoding an export request body, whatever the signal and encoding.
import { decodeLogsJson } from './json-logs.ts';
import { decodeTracesJson } from './json-traces.ts';
import { OtlpDecodeError, type ResolvedDecodeLimits } from './limits.ts';
import { decodeLogsProto } from './proto-logs.ts';
import { decodeTracesProto } from './proto-traces.ts';
import type { WireFormat } from './responses.ts';
import type { DecodedLogRecord, DecodedSpan } from './types.ts';

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    // SyntaxError, invalid UTF-8 (TypeError), or a RangeError from pathological nesting.
    throw new OtlpDecodeError(`invalid JSON body (${(err as Error).name})`);
  }
}

export function decodeLogs(
  bytes: Uint8Array,
  format: WireFormat,
  limits: ResolvedDecodeLimits,
): DecodedLogRecord[] {
  return format === 'protobuf' ? decodeLogsProto(bytes, limits) : decodeLogsJson(parseJson(bytes), limits);
}

export function decodeTraces(
  bytes: Uint8Array,
  format: WireFormat,
  limits: ResolvedDecodeLimits,
): DecodedSpan[] {
  return format === 'protobuf'
    ? decodeTracesProto(bytes, limits)
    : decodeTracesJson(parseJson(bytes), limits);
}
