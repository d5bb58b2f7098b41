// llmsec log records and span events, as decoded from OTLP, back into core SecurityEvents with
// core's OTel attribute codec (the inverse of what @llmsec/sdk writes), ids from the carrier.
import {
  ALERT_EVENT_NAME,
  ATTR_CLIENT_ADDRESS,
  ATTR_EVENT_CATEGORY,
  ATTR_EVENT_CORRELATED,
  ATTR_EVENT_DESCRIPTION,
  ATTR_EVENT_ID,
  ATTR_EVENT_SEVERITY,
  ATTR_EVENT_TIMESTAMP,
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_METADATA_PREFIX,
  ATTR_REQUEST_PREVIEW,
  ATTR_RESPONSE_PREVIEW,
  ATTR_SERVICE_NAME,
  ATTR_SESSION_ID,
  ATTR_USER_ID,
  EVENT_NAME_PREFIX,
  attributesToEvent,
  type CarrierIds,
  type SecurityEvent,
} from '@llmsec/core';
import { capEventFields } from '@llmsec/core/internal';
import { DROPPED_OTHER_KIND, cutsOf, prefixCount } from './cut-values.ts';
import { detachCutStrings } from './detach-strings.ts';
import { setAttr } from './proto-common.ts';
import { droppedValues } from './dropped-values.ts';
import type { Attributes, DecodedLogRecord, DecodedSpan, DecodedSpanEvent } from './types.ts';

/**
 * True for a record or span event that claims to be an llmsec security event: named
 * `llmsec.<category>` (not `llmsec.alert`, which is our own output), or unnamed but carrying an
 * llmsec event id (senders that put neither event_name nor the event.name attribute).
 */
export function isLlmsecEventName(name: string, attributes: Attributes): boolean {
  if (name === '') {
    // Carried as a named record's is read: a number (its text), or a string over the cap (cut).
    const id = attributes[ATTR_EVENT_ID];
    if (typeof id === 'string' || typeof id === 'number') return true;
    return id === null && typeof cutsOf(attributes)?.get(ATTR_EVENT_ID) === 'string';
  }
  return name.startsWith(EVENT_NAME_PREFIX) && name !== ALERT_EVENT_NAME;
}

/**
 * The SecurityEvent carried by an llmsec log record, or undefined when the record is not one
 * (another name) or is not a complete event (missing id, category, severity, timestamp or
 * user): the service counts those as rejected. The service name falls back to the resource's
 * `service.name`, so events from senders that only set it on the resource keep it.
 */
export function logRecordToEvent(record: DecodedLogRecord): SecurityEvent | undefined {
  if (!isLlmsecEventName(record.eventName, record.attributes)) return undefined;
  return toEvent(record.attributes, record.resource, record.traceId, record.spanId);
}

/**
 * The SecurityEvent carried by an `llmsec.<category>` span event, with the span's trace and
 * span ids (the SDK records the event on the span that was active), or undefined.
 */
export function spanEventToEvent(event: DecodedSpanEvent, span: DecodedSpan): SecurityEvent | undefined {
  if (!isLlmsecEventName(event.name, event.attributes)) return undefined;
  return toEvent(event.attributes, span.resource, span.traceId, span.spanId);
}

// The carrier ids handed to attributesToEvent, which only reads them while it runs: one object
// of one shape, refilled per record, instead of an object per record of one of four shapes.
const ids: CarrierIds = { trace_id: undefined, span_id: undefined };

/** Resources whose over-cap service.name drop was taken back (it is each event's, cut). */
const serviceTakenBack = new WeakSet<Attributes>();

function toEvent(
  attributes: Attributes,
  resource: Attributes,
  traceId: string,
  spanId: string,
): SecurityEvent | undefined {
  ids.trace_id = traceId !== '' ? traceId : undefined;
  ids.span_id = spanId !== '' ? spanId : undefined;
  const event = attributesToEvent(withCuts(attributes), ids);
  if (event === undefined) return undefined;
  if (event.service === undefined) {
    const service = resource[ATTR_SERVICE_NAME] ?? cutsOf(resource)?.get(ATTR_SERVICE_NAME);
    if (typeof service === 'string' && service !== '') {
      event.service = service;
      // Dropped once for the resource (decoded once for all its records), put back for each
      // event, its cut counted below per event: the drop is taken back once, by the first.
      if (resource[ATTR_SERVICE_NAME] === null && !serviceTakenBack.has(resource)) {
        serviceTakenBack.add(resource);
        droppedValues.count--;
      }
    }
  }
  // Any field can be a rule's group key or distinct value, held by every group (up to
  // maxGroupsPerRule) and shipped to Redis, and a sender other than the SDK can make one as
  // long as maxStringBytes: cut to core's caps, the function core's JSONL reader and replay's
  // fast reader end with, so the same event from a log or from OTLP is the same group. It also
  // drops metadata values outside core's model (OTLP carries bytes, kvlists, null, mixed arrays)
  // and keys past the cap, as for a log line. Counted with the values the decoders dropped
  // (llmsec_detector_values_dropped_total).
  const cuts = capEventFields(event);
  if (cuts > 0) {
    droppedValues.count += cuts;
    detachCutStrings(event); // the cuts no longer hold what they were cut from
  }
  return event;
}

/** The attributes an event is read from (attributesToEvent), besides metadata. */
const EVENT_ATTRIBUTES: ReadonlySet<string> = new Set([
  ATTR_EVENT_ID,
  ATTR_EVENT_CATEGORY,
  ATTR_EVENT_SEVERITY,
  ATTR_EVENT_TIMESTAMP,
  ATTR_USER_ID,
  ATTR_SESSION_ID,
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_CLIENT_ADDRESS,
  ATTR_SERVICE_NAME,
  ATTR_EVENT_DESCRIPTION,
  ATTR_REQUEST_PREVIEW,
  ATTR_RESPONSE_PREVIEW,
  ATTR_EVENT_CORRELATED,
]);

/**
 * The attributes with the event fields the decoders dropped as over maxStringBytes put back cut
 * (cut-values.ts): every JSONL reader keeps such a field cut to core's caps (capEventFields, run
 * on the event next) and keeps the event, so the same event is the same group from a log or
 * from OTLP. A copy when any was put back; those are no longer counted as dropped (the cut is
 * counted by capEventFields).
 */
function withCuts(attributes: Attributes): Attributes {
  const cuts = cutsOf(attributes);
  if (cuts === undefined) return attributes;
  let out: Attributes | undefined;
  for (const [key, cut] of cuts) {
    if (typeof key !== 'string') continue;
    if (!EVENT_ATTRIBUTES.has(key) && !key.startsWith(ATTR_METADATA_PREFIX)) continue;
    const decoded = attributes[key];
    if (cut === DROPPED_OTHER_KIND) {
      // A list or bytes where a string belongs: no event, as a shorter one (cut-values.ts).
      // Metadata drops such a value and correlated_events is a list: both read as absent.
      if (decoded !== null || key === ATTR_EVENT_CORRELATED || !EVENT_ATTRIBUTES.has(key)) continue;
      out ??= { ...attributes };
      setAttr(out, key, cut);
      continue;
    }
    if (decoded === undefined || prefixCount(decoded, cut) === 0) continue;
    out ??= { ...attributes };
    setAttr(out, key, cut);
    droppedValues.count -= prefixCount(decoded, cut);
  }
  return out ?? attributes;
}
