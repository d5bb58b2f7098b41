import type { AttributeValue, Attributes } from '@opentelemetry/api';
import {
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
  type SecurityEvent,
} from '@llmsec/core';
import { addCompletedMetadata } from './completed-attributes.ts';
import { addNamedMetadata } from './named-attributes.ts';

/**
 * core's eventToAttributes (otel-codec.ts), same keys in the same order, for the event hot
 * path: the `llmsec.metadata.<key>` names are cached. A name built by concatenation is a new
 * string that V8 flattens, hashes and interns each time the span event and the log record
 * store it as a property key; a cached name is interned once. Metadata keys come from code
 * (category fields) and from callers, so the cache is bounded; past it, names are built.
 * The equality with core's codec is asserted in test/event-attributes.test.ts.
 */
const MAX_CACHED_KEYS = 256;
/** Not Object.hasOwn, in a `for…in`: a map check there, not a call per key (event-builder.ts says why). */
const hasOwnProperty = Object.prototype.hasOwnProperty;
const metadataKeys = new Map<string, string>();

function metadataKey(key: string): string {
  let name = metadataKeys.get(key);
  if (name === undefined) {
    name = ATTR_METADATA_PREFIX + key;
    if (metadataKeys.size < MAX_CACHED_KEYS) metadataKeys.set(key, name);
  }
  return name;
}

/**
 * An empty attributes object from a constructor, not `{}`: V8's slack tracking sizes it for the
 * nine or more attributes stored into it, where `{}` holds four and grows a properties array
 * (copied at each growth) for the rest, 64 bytes more per event. Its prototype is
 * Object.prototype: a plain object, as before.
 */
const PlainAttributes = function (): void {} as unknown as new () => Attributes;
PlainAttributes.prototype = Object.prototype;

export function eventAttributes(event: SecurityEvent): Attributes {
  // Assigned one by one, not a literal with computed keys, which V8 builds through the runtime:
  // a few ns per event (8 ns with the SDK's copy after it, alternating in one process).
  const attrs = new PlainAttributes();
  attrs[ATTR_EVENT_ID] = event.event_id;
  attrs[ATTR_EVENT_CATEGORY] = event.category;
  attrs[ATTR_EVENT_SEVERITY] = event.severity;
  attrs[ATTR_EVENT_TIMESTAMP] = event.timestamp;
  attrs[ATTR_USER_ID] = event.user_id;
  if (event.session_id !== undefined) attrs[ATTR_SESSION_ID] = event.session_id;
  if (event.conversation_id !== undefined) attrs[ATTR_GEN_AI_CONVERSATION_ID] = event.conversation_id;
  if (event.source_ip !== undefined) attrs[ATTR_CLIENT_ADDRESS] = event.source_ip;
  if (event.service !== undefined) attrs[ATTR_SERVICE_NAME] = event.service;
  if (event.description !== undefined) attrs[ATTR_EVENT_DESCRIPTION] = event.description;
  if (event.request_preview !== undefined) attrs[ATTR_REQUEST_PREVIEW] = event.request_preview;
  if (event.response_preview !== undefined) attrs[ATTR_RESPONSE_PREVIEW] = event.response_preview;
  if (event.correlated_events !== undefined) attrs[ATTR_EVENT_CORRELATED] = event.correlated_events;
  const md = event.metadata;
  // An instrumented call's request_completed, the event of every call: its keys written out.
  if (
    md !== undefined &&
    !(event.category === 'request_completed'
      ? addCompletedMetadata(attrs, md)
      : addNamedMetadata(attrs, event.category, md))
  ) {
    // for…in with an own-property check, not Object.keys: the same keys in the same order without
    // a key array per event (for…in walks the map's enum cache). The check keeps out anything
    // enumerable on the prototype chain (a polluted Object.prototype), as Object.keys does.
    for (const key in md)
      if (hasOwnProperty.call(md, key)) attrs[metadataKey(key)] = md[key] as AttributeValue;
  }
  return attrs;
}
