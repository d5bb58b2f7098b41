// The decoded OTLP representation the detector service consumes, and the ingest contract the
// service implements for the receivers (OTLP/HTTP and OTLP/gRPC). Plain objects only: the
// receivers decode protobuf and OTLP/JSON into these, so the service never sees wire formats.

/**
 * The JS value of an OTLP `AnyValue`: string, bool, double, int64 (a number when it is a safe
 * integer, else its decimal string), bytes, array, or key-value list (a plain object; keys
 * repeated in a kvlist keep the last value). An empty AnyValue decodes to `null`.
 */
export type AttrValue =
  | string
  | number
  | boolean
  | Uint8Array
  | null
  | readonly AttrValue[]
  | { readonly [key: string]: AttrValue };

/** Attributes (`repeated KeyValue`) as a plain object; a repeated key keeps the last value. */
export type Attributes = Record<string, AttrValue>;

/** One OTLP LogRecord with its resource and scope flattened in. */
export interface DecodedLogRecord {
  /** timeUnixNano in ms (fractional part kept); when 0/absent, observedTimeUnixNano; else 0. */
  timeMs: number;
  /** LogRecord.event_name (field 12, OTLP ≥ 1.5); when empty, the `event.name` attribute; else ''. */
  eventName: string;
  severityNumber: number;
  /** LogRecord.body; null when absent. */
  body: AttrValue;
  attributes: Attributes;
  /** Lowercase hex (32 chars) or '' when absent / all-zero. */
  traceId: string;
  /** Lowercase hex (16 chars) or ''. */
  spanId: string;
  resource: Attributes;
  /** InstrumentationScope.name, or ''. */
  scope: string;
  /**
   * Set when the record broke a per-record decode cap (more than maxAttributes attributes, on it
   * or in a kvlist it holds, or on its resource; its scope's name past maxStringBytes): the record
   * is empty (no attributes, body or ids) and is to be rejected, this message saying which cap.
   * The rest of the request is decoded and taken: one hostile record does not lose the others.
   */
  overCap?: string;
}

export interface DecodedSpanEvent {
  timeMs: number;
  name: string;
  attributes: Attributes;
}

/** One OTLP Span with its resource and scope flattened in. */
export interface DecodedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** SpanKind enum value (0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer). */
  kind: number;
  startMs: number;
  endMs: number;
  attributes: Attributes;
  events: DecodedSpanEvent[];
  /** Status.code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
  resource: Attributes;
  scope: string;
  /**
   * Set when the span broke a per-record decode cap (more than maxAttributes attributes on it
   * or one of its events, more than maxSpanEvents events, a name or status message past
   * maxStringBytes, or the same of its resource or scope): the span is empty and is to be
   * rejected, this message saying which cap. See DecodedLogRecord.overCap.
   */
  overCap?: string;
}

/**
 * What the service answers for one export request.
 * - accepted: taken (all but `rejected` of them); rejected > 0 becomes OTLP partial_success
 *   with `message` as its error_message; a `message` with rejected 0 is sent as a warning
 *   (partial_success with only error_message, as the OTLP spec allows). With `settled`, the receivers answer once it settles
 *   (resolved or rejected: the records are taken either way), e.g. once the events are in a
 *   shared state, so a sender awaiting each answer is ordered across replicas.
 * - overloaded: the ingest queue is full; HTTP 429 / gRPC RESOURCE_EXHAUSTED with retry delay.
 * - unavailable: draining or not ready; HTTP 503 / gRPC UNAVAILABLE with retry delay.
 * Senders retry the last two, so nothing is lost when the service refuses a whole request.
 */
export type IngestResult =
  | { kind: 'accepted'; rejected: number; message?: string; settled?: Promise<void> }
  | { kind: 'overloaded'; retryAfterSeconds: number }
  | { kind: 'unavailable'; retryAfterSeconds: number };

/**
 * Implemented by the service. Called synchronously once per decoded export request, with all
 * of its records; must not throw (a throw is answered as 503 / UNAVAILABLE and reported).
 * An all-or-nothing answer: either the records are taken (minus `rejected`) or none are.
 */
export interface OtlpIngest {
  logs(records: DecodedLogRecord[]): IngestResult;
  traces(spans: DecodedSpan[]): IngestResult;
}

/**
 * Caps applied while decoding one export request. Past maxRecords (or as many span events in
 * the request) the whole request is refused; past a cap of one record, that record alone is
 * rejected (`overCap`, OTLP partial success); an attribute value past a cap is dropped, the
 * record kept (as said for each).
 */
export interface DecodeLimits {
  /**
   * Most log records or spans in one request.
   * @default 100_000
   */
  maxRecords?: number;
  /**
   * Most attributes on one record, span, span event, resource or kvlist (past it the record is
   * rejected alone: `overCap`; for a resource, every record under it), and values in one array
   * (past it that array decodes as null, the record kept).
   * @default 1_024
   */
  maxAttributes?: number;
  /**
   * Longest string (UTF-8 bytes) in a key, name or value; a span's name or status message, or a
   * scope's name, longer rejects that record alone (`overCap`; for a scope, every record under
   * it); an attribute's string or bytes value which decodes as null (counted in
   * ReceiveReport.droppedValues) and the record is kept. An llmsec event's field (a string) is
   * kept cut to core's field caps instead, as every JSONL reader cuts it (cut-values.ts), and so
   * is a log record's event_name or a span event's name (`llmsec.<category>`). An attribute whose
   * key is longer is dropped (counted), the record kept.
   * @default 65_536
   */
  maxStringBytes?: number;
  /**
   * Deepest AnyValue nesting (array / kvlist inside array / kvlist); a value nested deeper
   * decodes as null (counted in ReceiveReport.droppedValues, skipped unread) and the record is
   * kept, as a log line's metadata nested that deep is dropped with the event kept.
   * @default 16
   */
  maxDepth?: number;
  /**
   * Most events on one span (past it the span is rejected alone: `overCap`).
   * @default 1_024
   */
  maxSpanEvents?: number;
}

/** How one export request ended, for the service's metrics (low-cardinality by design). */
export type ReceiveOutcome =
  | 'accepted' // handed to OtlpIngest and taken (report.rejected of them refused)
  | 'overloaded' // OtlpIngest answered overloaded: 429 / RESOURCE_EXHAUSTED
  | 'unavailable' // OtlpIngest answered unavailable (or threw): 503 / UNAVAILABLE
  | 'invalid' // body did not decode or broke a DecodeLimits cap: 400 / INVALID_ARGUMENT
  | 'too_large' // over the body size cap (wire or decompressed): 413
  | 'unauthenticated' // an authToken is configured and the request does not carry it: 401 / UNAUTHENTICATED
  | 'unsupported' // other method, content type or content encoding: 405 / 415
  | 'timeout' // body not received in time: 408
  | 'aborted'; // the sender went away mid-request

export interface ReceiveReport {
  transport: 'http' | 'grpc';
  signal: 'logs' | 'traces';
  outcome: ReceiveOutcome;
  /** Records (log records or spans) decoded; 0 when the body did not decode. */
  records: number;
  /** Of those, refused by OtlpIngest (partial success). */
  rejected: number;
  /** Size of the message decoded (HTTP: after gunzip); 0 when the body was not read whole. */
  bytes: number;
  /**
   * Attribute string or bytes values over `maxStringBytes` that decoded as null (the record
   * kept); 0 when the body did not decode.
   */
  droppedValues: number;
  /**
   * Which receiver bound refused the request before the ingest saw it, when one did: HTTP's
   * `maxInflightBytes` (outcome `overloaded`, 429; without it, an `overloaded` is the ingest's).
   */
  refusedBy?: 'maxInflightBytes';
}

/** Called once per export request; must not throw (a throw is caught and ignored). */
export type ReceiveObserver = (report: ReceiveReport) => void;
