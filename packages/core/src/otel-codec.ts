import type { AttributeValue, Attributes } from '@opentelemetry/api';
import * as A from './attributes.ts';
import { eventIdList } from './id-list.ts';
import { metadataKey } from './metadata-keys.ts';
import { isSeverity, type Metadata, type MetadataValue, type SecurityEvent } from './model.ts';

/**
 * A security event as OpenTelemetry attributes, and back. The SDK writes these on span events
 * and log records; the detection processors read them. Round trip: attributesToEvent(
 * eventToAttributes(e)) equals e (trace and span ids come from the carrier, not attributes).
 */
export function eventToAttributes(event: SecurityEvent): Attributes {
  const attrs: Attributes = {
    [A.ATTR_EVENT_ID]: event.event_id,
    [A.ATTR_EVENT_CATEGORY]: event.category,
    [A.ATTR_EVENT_SEVERITY]: event.severity,
    [A.ATTR_EVENT_TIMESTAMP]: event.timestamp,
    [A.ATTR_USER_ID]: event.user_id,
  };
  if (event.session_id !== undefined) attrs[A.ATTR_SESSION_ID] = event.session_id;
  if (event.conversation_id !== undefined) attrs[A.ATTR_GEN_AI_CONVERSATION_ID] = event.conversation_id;
  if (event.source_ip !== undefined) attrs[A.ATTR_CLIENT_ADDRESS] = event.source_ip;
  if (event.service !== undefined) attrs[A.ATTR_SERVICE_NAME] = event.service;
  if (event.description !== undefined) attrs[A.ATTR_EVENT_DESCRIPTION] = event.description;
  if (event.request_preview !== undefined) attrs[A.ATTR_REQUEST_PREVIEW] = event.request_preview;
  if (event.response_preview !== undefined) attrs[A.ATTR_RESPONSE_PREVIEW] = event.response_preview;
  if (event.correlated_events !== undefined) attrs[A.ATTR_EVENT_CORRELATED] = event.correlated_events;
  if (event.metadata !== undefined) {
    for (const key of Object.keys(event.metadata)) {
      attrs[A.ATTR_METADATA_PREFIX + key] = event.metadata[key] as AttributeValue;
    }
  }
  return attrs;
}

export interface CarrierIds {
  trace_id?: string;
  span_id?: string;
}

/**
 * Rebuilds an event from attributes written by eventToAttributes. Returns undefined when the
 * attributes are not a complete llmsec event (another library's `llmsec.*`-named event, say).
 */
export function attributesToEvent(
  attrs: Readonly<Record<string, unknown>> | undefined,
  ids: CarrierIds = {},
): SecurityEvent | undefined {
  if (!attrs) return undefined;
  // As core's JSONL reader reads a line (decodeEvent): an id or category given as a number is its
  // decimal text, and an empty one is no event, so the same event is one event on every path.
  const event_id = idText(attrs[A.ATTR_EVENT_ID]);
  const category = idText(attrs[A.ATTR_EVENT_CATEGORY]);
  const severity = attrs[A.ATTR_EVENT_SEVERITY];
  const timestamp = attrs[A.ATTR_EVENT_TIMESTAMP];
  const user_id = idText(attrs[A.ATTR_USER_ID]);
  if (
    event_id === undefined ||
    category === undefined ||
    !isSeverity(severity) ||
    typeof timestamp !== 'string' ||
    user_id === undefined
  ) {
    return undefined;
  }
  const event: SecurityEvent = { event_id, timestamp, category, severity, user_id };
  // One pass over the attributes picks up the optional fields and the metadata: cheaper than a
  // lookup per optional field plus a separate scan for metadata (the attribute objects of
  // different categories have different shapes, so each named lookup is a megamorphic one).
  let session_id: unknown;
  let conversation_id: unknown;
  let source_ip: unknown;
  let service: unknown;
  let description: unknown;
  let request_preview: unknown;
  let response_preview: unknown;
  let correlated: unknown;
  let metadata: Metadata | undefined;
  // for-in rather than Object.keys: no keys array per event. Attribute objects are plain
  // objects (or null-prototype ones), so it visits the same own keys.
  for (const key in attrs) {
    switch (key) {
      case A.ATTR_SESSION_ID:
        session_id = attrs[key];
        break;
      case A.ATTR_GEN_AI_CONVERSATION_ID:
        conversation_id = attrs[key];
        break;
      case A.ATTR_CLIENT_ADDRESS:
        source_ip = attrs[key];
        break;
      case A.ATTR_SERVICE_NAME:
        service = attrs[key];
        break;
      case A.ATTR_EVENT_DESCRIPTION:
        description = attrs[key];
        break;
      case A.ATTR_REQUEST_PREVIEW:
        request_preview = attrs[key];
        break;
      case A.ATTR_RESPONSE_PREVIEW:
        response_preview = attrs[key];
        break;
      case A.ATTR_EVENT_CORRELATED:
        correlated = attrs[key];
        break;
      case A.ATTR_EVENT_ID:
      case A.ATTR_EVENT_CATEGORY:
      case A.ATTR_EVENT_SEVERITY:
      case A.ATTR_EVENT_TIMESTAMP:
      case A.ATTR_USER_ID:
        break; // read above
      default: {
        const name = metadataKey(key);
        if (name !== undefined) {
          metadata ??= {};
          setMetadata(metadata, name, attrs[key] as MetadataValue);
        }
      }
    }
  }
  // A list with an entry that is no id (null, a map) is refused as a list of another kind.
  const correlatedIds = Array.isArray(correlated) ? eventIdList(correlated) : undefined;
  // A field of another kind (a boolean, a list, a map, bytes) makes no event, as core's JSONL
  // reader refuses such a line ('field "x" must be a string'): one answer on every path.
  if (
    notText(session_id) ||
    notText(conversation_id) ||
    notText(source_ip) ||
    notText(service) ||
    notText(description) ||
    notText(request_preview) ||
    notText(response_preview) ||
    (correlated !== undefined && correlated !== null && correlatedIds === undefined)
  )
    return undefined;
  // Same field order as before (and as eventToAttributes' inverse): one hidden class per set.
  // A number is its decimal text, as core's JSONL reader takes it.
  if (typeof session_id === 'string') event.session_id = session_id;
  else if (typeof session_id === 'number') event.session_id = String(session_id);
  if (typeof conversation_id === 'string') event.conversation_id = conversation_id;
  else if (typeof conversation_id === 'number') event.conversation_id = String(conversation_id);
  if (ids.trace_id !== undefined) event.trace_id = ids.trace_id;
  if (ids.span_id !== undefined) event.span_id = ids.span_id;
  if (typeof source_ip === 'string') event.source_ip = source_ip;
  else if (typeof source_ip === 'number') event.source_ip = String(source_ip);
  if (typeof service === 'string') event.service = service;
  else if (typeof service === 'number') event.service = String(service);
  if (typeof description === 'string') event.description = description;
  else if (typeof description === 'number') event.description = String(description);
  if (typeof request_preview === 'string') event.request_preview = request_preview;
  else if (typeof request_preview === 'number') event.request_preview = String(request_preview);
  if (typeof response_preview === 'string') event.response_preview = response_preview;
  else if (typeof response_preview === 'number') event.response_preview = String(response_preview);
  if (correlatedIds !== undefined) event.correlated_events = correlatedIds;
  if (metadata !== undefined) event.metadata = metadata;
  return event;
}

/** A required id or category: a non-empty string, or a number's decimal text; else undefined. */
function idText(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 0 ? v : undefined;
  if (typeof v === 'number') return String(v);
  return undefined;
}

/** An optional string field present as something else than a string or number (null: absent). */
function notText(v: unknown): boolean {
  return v !== undefined && v !== null && typeof v !== 'string' && typeof v !== 'number';
}

/** metadata[name] = value, where `llmsec.metadata.__proto__` is data, not the object's prototype. */
function setMetadata(metadata: Metadata, name: string, value: MetadataValue): void {
  if (name === '__proto__') {
    Object.defineProperty(metadata, name, { value, enumerable: true, writable: true, configurable: true });
  } else {
    metadata[name] = value;
  }
}
