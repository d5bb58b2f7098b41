// Records past a cap of their own, rejected alone (OtlpRecordOverCapError): the decoders put an
// empty record carrying the cap's message in its place, and decode on from the record's end,
// so one hostile record costs only itself, reported as OTLP partial success, and the rest of
// the batch (other users' events) is taken. Before, it made the request a 400, which the
// Collector does not retry: every record batched with it was lost.
import { droppedValues } from './dropped-values.ts';
import { OtlpRecordOverCapError } from './limits.ts';
import type { Attributes, DecodedLogRecord, DecodedSpan } from './types.ts';

const EMPTY: Attributes = Object.freeze({}) as Attributes;

export function overCapLogRecord(message: string): DecodedLogRecord {
  return {
    timeMs: 0,
    eventName: '',
    severityNumber: 0,
    body: null,
    attributes: EMPTY,
    traceId: '',
    spanId: '',
    resource: EMPTY,
    scope: '',
    overCap: message,
  };
}

export function overCapSpan(message: string): DecodedSpan {
  return {
    traceId: '',
    spanId: '',
    parentSpanId: '',
    name: '',
    kind: 0,
    startMs: 0,
    endMs: 0,
    attributes: EMPTY,
    events: [],
    status: { code: 0, message: '' },
    resource: EMPTY,
    scope: '',
    overCap: message,
  };
}

/** The message of a per-record cap, or rethrows anything else (the request fails whole). */
export function overCapMessage(err: unknown): string {
  if (err instanceof OtlpRecordOverCapError) return err.message;
  throw err;
}

/**
 * Values dropped inside a record rejected whole are not counted as dropped (the record is
 * counted as rejected instead): the count is put back to what it was before the record.
 */
export function forgetDropped(before: number): void {
  droppedValues.count = before;
}

/**
 * Replaces out[first..] with rejected records: their resource or scope broke a cap. On the
 * protobuf wire it may follow its records, decoded by then: the values they dropped are not
 * counted either (`droppedBefore`: the count when the resource or scope began), as for a record
 * rejected alone, and as in OTLP/JSON, where the resource is read before its records.
 */
export function rejectFrom<T>(
  out: T[],
  first: number,
  stub: (message: string) => T,
  message: string,
  droppedBefore: number,
): void {
  for (let i = first; i < out.length; i++) out[i] = stub(message);
  forgetDropped(droppedBefore);
}
