// One entry point for decoding an export request body, whatever the signal and encoding.
import { decodeLogsJson } from './json-logs.ts';
import { decodeTracesJson } from './json-traces.ts';
import { OtlpDecodeError, type ResolvedDecodeLimits } from './limits.ts';
import { decodeLogsProto } from './proto-logs.ts';
import { decodeTracesProto } from './proto-traces.ts';
import type { WireFormat } from './responses.ts';
import type { DecodedLogRecord, DecodedSpan } from './types.ts';

// Not fatal: bytes that are not UTF-8 are read as U+FFFD, as the protobuf decoder reads a
// string field (ProtoReader's utf8Slice) and llmsec replay a line. A fatal decoder made the
// whole request a 400 'invalid JSON body (TypeError)' for one stray byte in one user's prompt
// preview: the Collector does not retry a 400, so every record batched with it was lost.
const UTF8 = new TextDecoder('utf-8');

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(UTF8.decode(bytes));
  } catch (err) {
    if (err instanceof SyntaxError)
      throw new OtlpDecodeError(`invalid JSON body: ${err.message.slice(0, 200)}`);
    // A RangeError from pathological nesting (the parser's stack).
    throw new OtlpDecodeError(`invalid JSON body: nested too deeply (${(err as Error).name})`);
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
