import { isSpanContextValid, type Context, type SpanContext } from '@opentelemetry/api';
import {
  ANONYMOUS_USER,
  DEFAULT_SEVERITY,
  PREVIEW_MAX_CHARS,
  isCategory,
  isSeverity,
  payloadFingerprint,
  redactPreview,
  type Category,
  type Clock,
  type EventInput,
  type FingerprintKey,
  type IdGenerator,
  type Metadata,
  type SecurityEvent,
} from '@llmsec/core';
import type { SecurityContext } from './context.ts';
import { getSecurityContext, normaliseId } from './context.ts';
import { warnOnce } from './errors.ts';
import { isRfc3339Time, isoTime } from './iso-time.ts';
import { normaliseCompletedMetadata } from './completed-attributes.ts';
import { LIMITS, clipText, finiteNumber, metadataValue, normaliseMetadata, stringList } from './normalise.ts';
import { mergeNamed } from './merge-named.ts';
import { toolPayloadText } from './tool-payload.ts';

/**
 * Builds the SecurityEvent object of one call: id, event time, severity, correlation ids,
 * normalised metadata, payload length and fingerprint, and (opt-in) redacted previews.
 * Pure apart from the injected id generator (the time is read before, eventTime); never throws on bad input.
 */

/** What buildEvent needs besides the call's input: fixed per SecurityEvents, one object for all its events. */
export interface BuildDeps {
  ids: IdGenerator;
  serviceName: string | undefined;
  capturePreviews: boolean;
  /** The payload fingerprint's HMAC key (called only when an event has a payload). */
  fingerprintKey: () => FingerprintKey;
}

/**
 * `Object.hasOwn` for a `for…in` key, as the original hasOwnProperty: TurboFan reads
 * `hasOwnProperty.call(o, key)` on the object and key of the `for…in` it is in as a map check (the
 * enumeration already walks o's own keys), where `Object.hasOwn` stays a builtin call per key:
 * 10-15 ns CPU a key in a scratch loop (Node 24, a two-key object: 38-52 ns against 16-22). The
 * same answer for every object and string key. Held in a module constant: imported from another
 * module it is not constant-folded and costs as much as Object.hasOwn; read at load, so a later
 * change to Object.prototype does not reach it.
 */
const hasOwnProperty = Object.prototype.hasOwnProperty;

/**
 * Redaction runs on at most this much text: the preview keeps 500 characters, and a
 * multi-megabyte prompt must not cost a multi-megabyte regex scan in the request path.
 */
const MAX_REDACT_INPUT = 65_536;

/**
 * isSpanContextValid checks two hex ids character by character; an SDK span hands out the same
 * SpanContext object every time, and a call's events all belong to one span, so the last
 * valid one is remembered (by identity: a context object is not changed after creation).
 */
let lastValid: SpanContext | undefined;
function validSpanContext(sc: SpanContext): boolean {
  if (sc === lastValid) return true;
  if (!isSpanContextValid(sc)) return false;
  lastValid = sc;
  return true;
}

/**
 * The security context of a context object. A call's events share one context, and contexts
 * (and their baggage) are immutable, so the last one read is remembered by identity: the
 * lookup walks the context and baggage and builds two objects.
 */
let lastContext: Context | undefined;
let lastSecurity: SecurityContext = {};
function securityOf(ctx: Context): SecurityContext {
  if (ctx !== lastContext) {
    lastSecurity = getSecurityContext(ctx);
    lastContext = ctx;
  }
  return lastSecurity;
}

/**
 * The event object, made by a constructor rather than a literal so that V8's slack tracking
 * sizes it for the fields set after it (ids, service, metadata): they are stored in the object
 * instead of a properties array that grows (and is copied) as they are added, 64 bytes less per
 * event. Its prototype is Object.prototype, so it is a plain object like the literal it replaces
 * (same keys in the same order; `constructor` is Object; JSON, structuredClone, toStrictEqual alike).
 */
const PlainEvent = function (
  this: SecurityEvent,
  eventId: string,
  timestamp: string,
  category: string,
  severity: SecurityEvent['severity'],
): void {
  this.event_id = eventId;
  this.timestamp = timestamp;
  this.category = category;
  this.severity = severity;
  this.user_id = '';
} as unknown as new (
  eventId: string,
  timestamp: string,
  category: string,
  severity: SecurityEvent['severity'],
) => SecurityEvent;
PlainEvent.prototype = Object.prototype;

/**
 * `named`: a category method's fields, already in their metadata names; they win over
 * `input.metadata` (undefined ones are skipped, so they erase nothing). `ctx`: the active
 * context, whose security context is read only when the input lacks one of the ids.
 * `spanContext`: the span the event belongs to, if any. `timeMs`: the event time (eventTime).
 * `security`: `ctx`'s security context when the caller has read it already, else undefined.
 * `known`: whether `category` is one of the categories, when the caller has looked it up already.
 */
export function buildEvent(
  category: string,
  input: EventInput & { metadata?: unknown },
  named: Record<string, unknown> | undefined,
  deps: BuildDeps,
  ctx: Context,
  spanContext: SpanContext | undefined,
  timeMs: number,
  security?: SecurityContext,
  known: boolean = isCategory(category),
): SecurityEvent {
  const raw: Partial<EventInput> & { metadata?: unknown } =
    input !== null && typeof input === 'object' ? input : {};
  const severity = isSeverity(raw.severity)
    ? raw.severity
    : known
      ? DEFAULT_SEVERITY[category as Category]
      : 'warning';
  const event = new PlainEvent(deps.ids.eventId(), isoTime(timeMs), category, severity);
  const userId = normaliseId(raw.userId);
  const sessionId = normaliseId(raw.sessionId);
  const conversationId = normaliseId(raw.conversationId);
  const ambient =
    userId === undefined || sessionId === undefined || conversationId === undefined
      ? (security ?? securityOf(ctx))
      : undefined;
  event.user_id = userId ?? ambient?.userId ?? ANONYMOUS_USER;
  const session = sessionId ?? ambient?.sessionId;
  if (session !== undefined) event.session_id = session;
  const conversation = conversationId ?? ambient?.conversationId;
  if (conversation !== undefined) event.conversation_id = conversation;
  if (spanContext !== undefined && validSpanContext(spanContext)) {
    event.trace_id = spanContext.traceId;
    event.span_id = spanContext.spanId;
  }
  const sourceIp = clipText(raw.sourceIp, LIMITS.addressChars);
  if (sourceIp !== undefined && sourceIp.length > 0) event.source_ip = sourceIp;
  if (deps.serviceName !== undefined) event.service = deps.serviceName;
  const description = clipText(raw.description, LIMITS.textChars);
  if (description !== undefined) event.description = description;

  const metadata = eventMetadata(category, raw.metadata, named);
  addPayload(event, metadata, raw, deps);
  if (hasKeys(metadata)) event.metadata = metadata;

  const correlated = stringList(raw.correlatedEvents, 64);
  if (correlated !== undefined && correlated.length > 0) event.correlated_events = correlated;
  return event;
}

/**
 * The event's metadata: `raw` (the caller's) with `named` over it, normalised. Same keys, order
 * and values as normalising `{ ...raw, ...defined named }` (past the key cap, the named fields
 * first: merge-named.ts); without caller metadata, the named
 * fields (at most ten, short known keys) are normalised straight into the result.
 */
function eventMetadata(category: string, raw: unknown, named: Record<string, unknown> | undefined): Metadata {
  const callerMetadata = raw !== null && typeof raw === 'object' && !Array.isArray(raw);
  // An instrumented call's request_completed, the event of every call: built as one literal.
  if (named === undefined && callerMetadata && category === 'request_completed') {
    const completed = normaliseCompletedMetadata(raw, warnCompletedDropped);
    if (completed !== undefined) return completed;
  }
  if (named === undefined || callerMetadata) {
    let source = raw;
    if (named !== undefined) source = mergeNamed(raw as Record<string, unknown>, named);
    const { metadata, dropped } = normaliseMetadata(source);
    if (dropped.length > 0) warnDropped(category, dropped);
    return metadata;
  }
  // `named` is the category method's own object, made for this call and held by nothing else, so
  // when every field is already its normalised value (the usual case: strings within the cap,
  // finite numbers, booleans) it is the metadata itself, with the same keys in the same order: one
  // object and a store under a computed name per field less per event. From the first field that
  // is not (absent, dropped, clipped, an array's copy), a copy is built as before, with the fields
  // before it as they were. A key for…in finds on the prototype chain (an enumerable property
  // polluted onto Object.prototype) is not a field: skipped, as normaliseMetadata's Object.keys
  // and emit()'s path skip it; copied, it would be llmsec.metadata.<key> on every event, past the
  // key count and key length caps this path does not apply (a method has at most ten short keys).
  let metadata: Metadata | undefined;
  let dropped: string[] | undefined;
  for (const key in named) {
    if (!hasOwnProperty.call(named, key)) continue;
    const given = named[key];
    const value = given === undefined ? undefined : metadataValue(given);
    if (metadata === undefined) {
      if (value === given && value !== undefined) continue;
      metadata = copyBefore(named, key);
    }
    if (value !== undefined) metadata[key] = value;
    else if (given !== undefined) (dropped ??= []).push(key);
  }
  if (dropped !== undefined) warnDropped(category, dropped);
  return metadata ?? (named as Metadata);
}

/** `named`'s fields before `stop`, in order: those eventMetadata kept as they are. */
function copyBefore(named: Record<string, unknown>, stop: string): Metadata {
  const metadata: Metadata = {};
  for (const key in named) {
    if (key === stop) break;
    metadata[key] = named[key] as Metadata[string];
  }
  return metadata;
}

/** C0 controls and DEL, as '?' in a warning. */
const CONTROL = /[\u0000-\u001f\u007f]/g;

const warnCompletedDropped = (dropped: string[]): void => warnDropped('request_completed', dropped);

/**
 * The caller's keys as named in a warning: cut to the key cap (the kept ones are; a dropped one was
 * whole, so a megabyte key went into the diag line and stayed in warnOnce's set, ten per warning)
 * and with control characters shown as '?' (a newline in a key would start a forged diag line).
 */
function warnDropped(category: string, dropped: string[]): void {
  const keys = dropped
    .slice(0, 10)
    .map((key) => (key.length > LIMITS.keyChars ? key.slice(0, LIMITS.keyChars) : key).replace(CONTROL, '?'))
    .join(', ');
  warnOnce(
    `metadata:${category}:${keys}`,
    `llmsec: ${category} event: metadata keys dropped (unsupported value or too many keys): ${keys}`,
  );
}

/** Whether `o` has an own enumerable key, without building the key array. */
function hasKeys(o: object): boolean {
  for (const key in o) if (hasOwnProperty.call(o, key)) return true;
  return false;
}

/** The input's event time as given (`input.timeMs`, read once), for eventTime. */
export function givenTime(input: unknown): unknown {
  return input !== null && typeof input === 'object' ? (input as Partial<EventInput>).timeMs : undefined;
}

/**
 * The event time in epoch ms: the given time when valid, else the clock. Read before buildEvent,
 * which takes it, so that the caller also knows whether it is the system clock's reading now.
 * Valid is a time the event's RFC 3339 timestamp can hold (years 0000-9999, isRfc3339Time): a
 * time in microseconds (Date.now() * 1000) would be year 58,000, written as toISOString's
 * +058862-… and refused by every reader, the event lost to detection.
 */
export function eventTime(value: unknown, clock: Clock): number {
  const t = finiteNumber(value);
  if (t !== undefined && isRfc3339Time(t)) return t;
  if (value !== undefined)
    warnOnce('event-time', `llmsec: ignoring invalid event time ${String(value)}; using the clock`);
  const now = clock.now();
  return isRfc3339Time(now) ? now : Date.now();
}

/**
 * Prompt length and fingerprint are recorded whenever the text is given; the fingerprint is
 * taken over the redacted, truncated preview so that a replayed JSONL line carrying
 * `request_preview` yields the same fingerprint (core fingerprint.ts), except a tool-marked
 * block's, which is taken over its whole payload (tool-payload.ts). The text itself is
 * recorded only when the operator opted in to previews.
 */
function addPayload(
  event: SecurityEvent,
  metadata: NonNullable<SecurityEvent['metadata']>,
  raw: Partial<EventInput>,
  deps: Pick<BuildDeps, 'capturePreviews' | 'fingerprintKey'>,
): void {
  const capturePreviews = deps.capturePreviews;
  const requestText = clipText(raw.requestText, Number.MAX_SAFE_INTEGER);
  if (requestText !== undefined) {
    if (metadata.prompt_length === undefined) metadata.prompt_length = requestText.length;
    const preview = previewOf(requestText);
    if (metadata.payload_fingerprint === undefined)
      metadata.payload_fingerprint = payloadFingerprint(
        // A tool-marked block's identity is all of its payload, not its first 500 characters (tool-payload.ts).
        event.category === 'guardrail_block' && metadata.input_source === 'tool'
          ? toolPayloadText(requestText, MAX_REDACT_INPUT)
          : preview,
        deps.fingerprintKey(),
      );
    if (capturePreviews) event.request_preview = preview;
  }
  const responseText = clipText(raw.responseText, Number.MAX_SAFE_INTEGER);
  if (responseText !== undefined) {
    if (metadata.response_length === undefined) metadata.response_length = responseText.length;
    if (capturePreviews) event.response_preview = previewOf(responseText);
  }
}

function previewOf(text: string): string {
  const head = text.length > MAX_REDACT_INPUT ? text.slice(0, MAX_REDACT_INPUT) : text;
  const { preview } = redactPreview(head, PREVIEW_MAX_CHARS);
  // Defence in depth: whatever the redactor returns, the format caps previews at 500 chars.
  return preview.length > PREVIEW_MAX_CHARS ? preview.slice(0, PREVIEW_MAX_CHARS) : preview;
}
