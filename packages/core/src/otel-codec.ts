import type { AttributeValue, Attributes } from '@opentelemetry/api';
import * as A from './attributes.ts';
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
  const event_id = attrs[A.ATTR_EVENT_ID];
  const category = attrs[A.ATTR_EVENT_CATEGORY];
  const severity = attrs[A.ATTR_EVENT_SEVERITY];
  const timestamp = attrs[A.ATTR_EVENT_TIMESTAMP];
  const user_id = attrs[A.ATTR_USER_ID];
  if (
    typeof event_id !== 'string' ||
    typeof category !== 'string' ||
    !isSeverity(severity) ||
    typeof timestamp !== 'string' ||
    typeof user_id !== 'string'
  ) {
    return undefined;
  }
  const event: SecurityEvent = { event_id, timestamp, category, severity, user_id };
  const str = (key: string): string | undefined => {
    const v = attrs[key];
    return typeof v === 'string' ? v : undefined;
  };
  const session_id = str(A.ATTR_SESSION_ID);
  if (session_id !== undefined) event.session_id = session_id;
  const conversation_id = str(A.ATTR_GEN_AI_CONVERSATION_ID);
  if (conversation_id !== undefined) event.conversation_id = conversation_id;
  if (ids.trace_id !== undefined) event.trace_id = ids.trace_id;
  if (ids.span_id !== undefined) event.span_id = ids.span_id;
  const source_ip = str(A.ATTR_CLIENT_ADDRESS);
  if (source_ip !== undefined) event.source_ip = source_ip;
  const service = str(A.ATTR_SERVICE_NAME);
  if (service !== undefined) event.service = service;
  const description = str(A.ATTR_EVENT_DESCRIPTION);
  if (description !== undefined) event.description = description;
  const request_preview = str(A.ATTR_REQUEST_PREVIEW);
  if (request_preview !== undefined) event.request_preview = request_preview;
  const response_preview = str(A.ATTR_RESPONSE_PREVIEW);
  if (response_preview !== undefined) event.response_preview = response_preview;
  const correlated = attrs[A.ATTR_EVENT_CORRELATED];
  if (Array.isArray(correlated)) event.correlated_events = correlated.map(String);
  let metadata: Metadata | undefined;
  for (const key of Object.keys(attrs)) {
    if (key.startsWith(A.ATTR_METADATA_PREFIX)) {
      metadata ??= {};
      metadata[key.slice(A.ATTR_METADATA_PREFIX.length)] = attrs[key] as MetadataValue;
    }
  }
  if (metadata !== undefined) event.metadata = metadata;
  return event;
}
