import type { Readable } from 'node:stream';
import { isSeverity, type Alert, type Metadata, type SecurityEvent } from './model.ts';
import { DEFAULT_MAX_LINE_BYTES, LineSplitter } from './line-splitter.ts';
import { parseTimestamp } from './timestamp.ts';
import { w3cId } from './w3c-id.ts';
import { capEventFields } from './event-caps.ts';
import { eventIdList } from './id-list.ts';
import { keepIntegerDigits } from './exact-integers.ts';

/**
 * The JSONL codec of docs/formats.md. Decoding is strict about required fields and
 * lenient about everything else: unknown fields and categories are accepted (and dropped),
 * ids given as numbers are turned into strings, a trace_id / span_id that is no W3C id is left
 * out (w3c-id.ts; the event kept), and a bad line is reported, never thrown out of a stream.
 */

export class EventDecodeError extends Error {
  override readonly name = 'EventDecodeError';
}

export interface DecodedEvent {
  event: SecurityEvent;
  /** The event time in epoch milliseconds, parsed once here so consumers need not. */
  timeMs: number;
}

const OPTIONAL_STRINGS = [
  'session_id',
  'conversation_id',
  'trace_id',
  'span_id',
  'source_ip',
  'service',
  'description',
  'request_preview',
  'response_preview',
] as const;

/** Validates a parsed JSON value as a security event. Throws EventDecodeError with the reason. */
export function decodeEvent(value: unknown): DecodedEvent {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new EventDecodeError('not a JSON object');
  }
  const raw = value as Record<string, unknown>;
  const event_id = requiredString(raw, 'event_id');
  const timestamp = requiredString(raw, 'timestamp');
  const timeMs = parseTimestamp(timestamp);
  if (Number.isNaN(timeMs)) {
    throw new EventDecodeError(`bad timestamp ${JSON.stringify(timestamp)} (want RFC 3339 with zone)`);
  }
  const category = requiredString(raw, 'category');
  const severity = requiredString(raw, 'severity');
  if (!isSeverity(severity)) {
    throw new EventDecodeError(
      `bad severity ${JSON.stringify(severity)} (want info, warning, alert or critical)`,
    );
  }
  const user_id = requiredString(raw, 'user_id');
  const event: SecurityEvent = { event_id, timestamp, category, severity, user_id };
  for (const key of OPTIONAL_STRINGS) {
    let v = optionalString(raw, key);
    if (v !== undefined && (key === 'trace_id' || key === 'span_id'))
      v = w3cId(v, key === 'trace_id' ? 32 : 16);
    if (v !== undefined) event[key] = v;
  }
  if (raw.metadata !== undefined && raw.metadata !== null) {
    if (typeof raw.metadata !== 'object' || Array.isArray(raw.metadata)) {
      throw new EventDecodeError('field "metadata" must be an object');
    }
    event.metadata = raw.metadata as Metadata;
  }
  if (raw.correlated_events !== undefined && raw.correlated_events !== null) {
    const ids = Array.isArray(raw.correlated_events) ? eventIdList(raw.correlated_events) : undefined;
    if (ids === undefined) {
      throw new EventDecodeError('field "correlated_events" must be an array of strings');
    }
    event.correlated_events = ids;
  }
  // Another producer's log may hold longer strings than the SDK writes (ids, source_ip,
  // metadata such as payload_fingerprint): cut as the detector cuts OTLP records
  // (event-caps.ts), so the same log groups alike on both and every group key stays bounded.
  capEventFields(event);
  return { event, timeMs };
}

function requiredString(raw: Record<string, unknown>, key: string): string {
  const v = raw[key];
  if (v === undefined || v === null) throw new EventDecodeError(`missing required field "${key}"`);
  if (typeof v === 'number' && key !== 'timestamp') return String(v);
  if (typeof v !== 'string') throw new EventDecodeError(`field "${key}" must be a string`);
  if (v.length === 0) throw new EventDecodeError(`field "${key}" is empty`);
  return v;
}

function optionalString(raw: Record<string, unknown>, key: string): string | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  throw new EventDecodeError(`field "${key}" must be a string`);
}

/** Decodes one JSONL line. Throws EventDecodeError (invalid JSON included). */
export function decodeEventLine(line: string): DecodedEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new EventDecodeError(`invalid JSON: ${(err as Error).message}`);
  }
  // An id written as an integer past 2^53 keeps its digits, as the detector's OTLP int64 does.
  if (value !== null && typeof value === 'object' && !Array.isArray(value))
    keepIntegerDigits(value as Record<string, unknown>, line);
  return decodeEvent(value);
}

/**
 * Field order of events.md. `conversation_id` was added later (optional, additive): it sits
 * by `session_id`, which it refines, and readers of the older format ignore it as unknown.
 */
export const EVENT_FIELDS = [
  'event_id',
  'timestamp',
  'category',
  'severity',
  'user_id',
  'session_id',
  'conversation_id',
  'trace_id',
  'span_id',
  'source_ip',
  'service',
  'description',
  'request_preview',
  'response_preview',
  'metadata',
  'correlated_events',
] as const;

/** One JSONL line (no newline) in events.md field order, absent fields omitted. */
export function encodeEvent(event: SecurityEvent): string {
  const out: Record<string, unknown> = {};
  for (const key of EVENT_FIELDS) {
    const v = event[key];
    if (v !== undefined) out[key] = v;
  }
  return JSON.stringify(out);
}

const ALERT_FIELDS = [
  'alert_id',
  'rule',
  'severity',
  'status',
  'labels',
  'user_ids',
  // Since 5 December 2026: a reader that turns the line into enforcement (a webhook receiver,
  // the JSONL fed to alertViolationHook) must know its users are the accounts tried.
  'users_are_victims',
  'across',
  'starts_at',
  'ends_at',
  'description',
  'evidence',
  'trace_ids',
] as const;

/** One alert JSONL line, exactly the fields of docs/formats.md section 2 (in-process extras, trigger, left out). */
export function encodeAlert(alert: Alert): string {
  const out: Record<string, unknown> = {};
  for (const key of ALERT_FIELDS) {
    const v = alert[key];
    if (v !== undefined) out[key] = v;
  }
  return JSON.stringify(out);
}

export interface LineError {
  /** 1-based line number in the input. */
  line: number;
  message: string;
}

/**
 * Streams decoded events from JSONL input. Blank lines are skipped silently; malformed lines
 * are passed to `onError` with their line number and skipped, and reading goes on. A line
 * longer than `maxLineBytes` (default 1 MiB) is skipped without being held in memory and
 * reported the same way. Linear time on any input (core's LineSplitter, not readline).
 */
export async function* readEventsJsonl(
  input: Readable | AsyncIterable<string>,
  onError: (error: LineError) => void,
  options: { maxLineBytes?: number } = {},
): AsyncGenerator<DecodedEvent & { line: number }> {
  if (typeof (input as Readable).pipe !== 'function') {
    // Already lines (an async iterable of strings).
    let lineNo = 0;
    for await (const rawLine of input as AsyncIterable<string>) {
      lineNo++;
      const decoded = decodeNumbered(rawLine, lineNo, onError);
      if (decoded !== undefined) yield decoded;
    }
    return;
  }
  const max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  // The splitter calls back per line; lines are yielded per chunk, in input order.
  let batch: (DecodedEvent & { line: number })[] = [];
  const splitter = new LineSplitter(
    (line, lineNo) => {
      const decoded = decodeNumbered(line, lineNo, onError);
      if (decoded !== undefined) batch.push(decoded);
    },
    {
      maxLineBytes: max,
      onOverlong: (lineNo, bytes) =>
        onError({ line: lineNo, message: `line of ${bytes} bytes is over the limit of ${max}; skipped` }),
    },
  );
  for await (const chunk of input as AsyncIterable<string | Buffer>) {
    splitter.push(chunk);
    if (batch.length > 0) {
      const ready = batch;
      batch = [];
      yield* ready;
    }
  }
  splitter.end();
  yield* batch;
}

function decodeNumbered(
  rawLine: string,
  lineNo: number,
  onError: (error: LineError) => void,
): (DecodedEvent & { line: number }) | undefined {
  const line = rawLine.trim();
  if (line.length === 0) return undefined;
  try {
    return { ...decodeEventLine(line), line: lineNo };
  } catch (err) {
    onError({ line: lineNo, message: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}
