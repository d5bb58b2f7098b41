import {
  ATTR_CLIENT_ADDRESS,
  ATTR_EVENT_DESCRIPTION,
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_REQUEST_PREVIEW,
  ATTR_RESPONSE_PREVIEW,
  ATTR_SERVICE_NAME,
  ATTR_SESSION_ID,
  ATTR_EVENT_CATEGORY,
  ATTR_EVENT_CORRELATED,
  ATTR_EVENT_ID,
  ATTR_EVENT_SEVERITY,
  ATTR_EVENT_TIMESTAMP,
  ATTR_USER_ID,
  SEVERITIES,
} from '@llmsec/core';
import { DROPPED_OTHER_KIND, cutsOf } from '../otlp/cut-values.ts';
import type { Attributes } from '../otlp/types.ts';
import { eventTimeMs } from './event-time.ts';

const REQUIRED_STRINGS = [ATTR_EVENT_ID, ATTR_EVENT_CATEGORY, ATTR_EVENT_TIMESTAMP, ATTR_USER_ID] as const;
const OPTIONAL_STRINGS = [
  ATTR_SESSION_ID,
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_CLIENT_ADDRESS,
  ATTR_SERVICE_NAME,
  ATTR_EVENT_DESCRIPTION,
  ATTR_REQUEST_PREVIEW,
  ATTR_RESPONSE_PREVIEW,
] as const;

/**
 * Why the attributes of an `llmsec.*` record or span event do not make a security event, in
 * words a sender in another language can act on (the partial_success error_message): the first
 * required attribute missing or of the wrong kind (docs/formats.md, "On OpenTelemetry"). Only
 * called for records already rejected, once per request.
 */
export function invalidEventDetail(attributes: Attributes): string {
  for (const key of REQUIRED_STRINGS) {
    const v = attributes[key];
    if (v === '') return `attribute "${key}" is empty`;
    if (v === undefined || v === null) return `missing string attribute "${key}"`;
    // A number is read as its text (core's attributesToEvent), except for the timestamp. One of
    // another kind is there, so "missing" sent the sender looking for a typo in the key.
    if (typeof v !== 'string' && (typeof v !== 'number' || key === ATTR_EVENT_TIMESTAMP))
      return `attribute "${key}" must be a string, not ${kindOf(v)}`;
  }
  const cuts = cutsOf(attributes);
  for (const key of OPTIONAL_STRINGS) {
    const v = attributes[key];
    if (v !== undefined && v !== null && typeof v !== 'string' && typeof v !== 'number')
      return `attribute "${key}" must be a string`;
    // A list or bytes dropped for its size (null here): refused for its kind (cut-values.ts).
    if (v === null && cuts?.get(key) === DROPPED_OTHER_KIND) return `attribute "${key}" must be a string`;
  }
  const correlated = attributes[ATTR_EVENT_CORRELATED];
  if (
    correlated !== undefined &&
    correlated !== null &&
    (!Array.isArray(correlated) || correlated.some((v) => typeof v !== 'string' && typeof v !== 'number'))
  )
    return `attribute "${ATTR_EVENT_CORRELATED}" must be a list of strings`;
  const severity = attributes[ATTR_EVENT_SEVERITY];
  if (!(SEVERITIES as readonly unknown[]).includes(severity))
    return `attribute "${ATTR_EVENT_SEVERITY}" must be one of ${SEVERITIES.join(', ')}`;
  if (Number.isNaN(eventTimeMs(attributes[ATTR_EVENT_TIMESTAMP] as string)))
    return `attribute "${ATTR_EVENT_TIMESTAMP}" is not RFC 3339 with a zone`;
  return 'not a complete security event';
}

/** The OTLP kind of a decoded attribute value that is not a string, as a sender wrote it. */
function kindOf(v: unknown): string {
  if (typeof v === 'boolean') return 'a boolean (boolValue)';
  if (typeof v === 'number') return 'a number';
  if (v instanceof Uint8Array) return 'bytes (bytesValue)';
  if (Array.isArray(v)) return 'a list (arrayValue)';
  return 'a map (kvlistValue)';
}
