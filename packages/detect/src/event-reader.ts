import {
  decodeEvent,
  EventDecodeError,
  parseTimestamp,
  type DecodedEvent,
  type SecurityEvent,
  type Severity,
  capEventFields,
  EVENT_FIELD_CAPS as C,
  keepIntegerDigits,
  metadataMayBeOverCaps,
  w3cId,
} from '@llmsec/core/jsonl';

/**
 * The replay reader: line splitting and event decoding fast enough for weeks of logs.
 * `decodeEventLineFast` gives exactly what core's `decodeEventLine` gives (same events, same
 * errors: a differential test holds it to that), but takes a short cut for the common line
 * (string fields, canonical `toISOString()` timestamps) and hands anything else to core.
 * The line splitter is core's (re-exported here, where replay's users import it from).
 */
export { DEFAULT_MAX_LINE_BYTES, forEachLine } from '@llmsec/core/jsonl';
export type { LineReaderOptions } from '@llmsec/core/jsonl';

/** A line no longer than this holds no description or metadata string over its cap. */
const LONGEST_UNCHECKED = Math.min(C.description, C.metadataString);

const SEVERITIES: ReadonlySet<string> = new Set(['info', 'warning', 'alert', 'critical']);

let lastSecond = '';
let lastSecondMs = Number.NaN;

/**
 * Event time of a timestamp. The canonical form `YYYY-MM-DDTHH:MM:SS.mmmZ` is split into its
 * second, validated and parsed by core once per distinct second (consecutive log lines share
 * it), and its milliseconds; any other form goes to core's parseTimestamp whole, and so does a
 * leap second (second 60: core reads all of it as :59.999, so its milliseconds are not added).
 */
export function eventTime(ts: string): number {
  if (
    ts.length === 24 &&
    ts.charCodeAt(23) === 90 /* Z */ &&
    ts.charCodeAt(19) === 46 /* . */ &&
    ts.charCodeAt(17) !== 54 /* 6 */
  ) {
    const d0 = ts.charCodeAt(20) - 48;
    const d1 = ts.charCodeAt(21) - 48;
    const d2 = ts.charCodeAt(22) - 48;
    if (d0 >= 0 && d0 <= 9 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9) {
      if (!ts.startsWith(lastSecond) || lastSecond.length !== 19) {
        lastSecond = ts.slice(0, 19);
        lastSecondMs = parseTimestamp(`${lastSecond}Z`);
      }
      return lastSecondMs + d0 * 100 + d1 * 10 + d2;
    }
  }
  return parseTimestamp(ts);
}

function nonEmpty(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

/**
 * The short cut: undefined whenever the line needs core's full treatment (or is invalid).
 * `lineLength` bounds every string of the line (for the caps' quick way out).
 */
function decodeCommon(raw: Record<string, unknown>, lineLength: number): DecodedEvent | undefined {
  const { event_id, timestamp, category, severity, user_id } = raw;
  if (!nonEmpty(event_id) || !nonEmpty(timestamp) || !nonEmpty(category) || !nonEmpty(user_id))
    return undefined;
  if (typeof severity !== 'string' || !SEVERITIES.has(severity)) return undefined;
  const timeMs = eventTime(timestamp);
  if (Number.isNaN(timeMs)) return undefined;
  const event: SecurityEvent = { event_id, timestamp, category, severity: severity as Severity, user_id };
  // Whether a string may be over core's caps (capEventFields below): checked on the locals here,
  // as loads from the event (of many shapes) cost ~100 ns a line. A line no longer than the
  // largest cap holds no string over it (a string is shorter than the line it is in).
  let long =
    lineLength > LONGEST_UNCHECKED ||
    event_id.length > C.id ||
    category.length > C.id ||
    user_id.length > C.id;
  // Unrolled, in the order of core's decoder: named loads and stores stay
  // monomorphic where a loop over computed keys goes megamorphic, at ~0.3 µs a line.
  const session_id = raw.session_id;
  if (session_id !== undefined && session_id !== null) {
    if (typeof session_id !== 'string') return undefined;
    if (session_id.length > C.id) long = true;
    event.session_id = session_id;
  }
  const conversation_id = raw.conversation_id;
  if (conversation_id !== undefined && conversation_id !== null) {
    if (typeof conversation_id !== 'string') return undefined;
    if (conversation_id.length > C.id) long = true;
    event.conversation_id = conversation_id;
  }
  const trace_id = raw.trace_id;
  if (trace_id !== undefined && trace_id !== null) {
    if (typeof trace_id !== 'string') return undefined;
    // Not a W3C id: left out, the event kept (core's w3cId, as core's decoder does).
    const id = w3cId(trace_id, 32);
    if (id !== undefined) event.trace_id = id;
  }
  const span_id = raw.span_id;
  if (span_id !== undefined && span_id !== null) {
    if (typeof span_id !== 'string') return undefined;
    const id = w3cId(span_id, 16);
    if (id !== undefined) event.span_id = id;
  }
  const source_ip = raw.source_ip;
  if (source_ip !== undefined && source_ip !== null) {
    if (typeof source_ip !== 'string') return undefined;
    if (source_ip.length > C.sourceIp) long = true;
    event.source_ip = source_ip;
  }
  const service = raw.service;
  if (service !== undefined && service !== null) {
    if (typeof service !== 'string') return undefined;
    if (service.length > C.id) long = true;
    event.service = service;
  }
  const description = raw.description;
  if (description !== undefined && description !== null) {
    if (typeof description !== 'string') return undefined;
    event.description = description;
  }
  const request_preview = raw.request_preview;
  if (request_preview !== undefined && request_preview !== null) {
    if (typeof request_preview !== 'string') return undefined;
    if (request_preview.length > C.preview) long = true;
    event.request_preview = request_preview;
  }
  const response_preview = raw.response_preview;
  if (response_preview !== undefined && response_preview !== null) {
    if (typeof response_preview !== 'string') return undefined;
    if (response_preview.length > C.preview) long = true;
    event.response_preview = response_preview;
  }
  const metadata = raw.metadata;
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) return undefined;
    event.metadata = metadata as SecurityEvent['metadata'] & object;
  }
  const correlated = raw.correlated_events;
  if (correlated !== undefined && correlated !== null) {
    if (!Array.isArray(correlated)) return undefined;
    // Strings are the common case; anything else (a number's text, or core's refusal of null
    // or an object, which String() made "null" and "[object Object]") is core's to decide.
    for (let i = 0; i < correlated.length; i++) if (typeof correlated[i] !== 'string') return undefined;
    event.correlated_events = correlated.slice() as string[];
  }
  // Core's caps (ids, source_ip, metadata strings...), the one function core's decoder ends with.
  // Metadata outside the model (null, nested) or with too many keys fits in a short line too.
  if (long || (event.metadata !== undefined && metadataMayBeOverCaps(event.metadata)))
    capEventFields(event, lineLength);
  return { event, timeMs };
}

/** Same contract as core's decodeEventLine: an event, or an EventDecodeError with the reason. */
export function decodeEventLineFast(line: string): DecodedEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new EventDecodeError(`invalid JSON: ${(err as Error).message}`);
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const fast = decodeCommon(value as Record<string, unknown>, line.length);
    if (fast !== undefined) return fast;
    // Off the fast path (a number where text belongs): an integer id past 2^53 keeps its
    // digits, as core's decodeEventLine and the detector's OTLP int64 keep them.
    keepIntegerDigits(value as Record<string, unknown>, line);
  }
  return decodeEvent(value);
}
