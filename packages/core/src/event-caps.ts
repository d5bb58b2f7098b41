import { cutId } from './cut-id.ts';
import { PREVIEW_MAX_CHARS, type Metadata, type SecurityEvent } from './model.ts';

/**
 * The longest string each event field keeps, in UTF-16 units, on every path an event enters
 * by: core's JSONL reader (decodeEvent: replay, test-rules), replay's fast reader, the
 * detector's OTLP records. Any field can be a rule's group key, distinct value or `across`
 * field, and so a key in every group table, a value in shared Redis state and an alert label:
 * events come from any service or file, so without a cap one event could make that megabytes.
 * The caps are what the SDK writes (its ids, client address, free text, metadata strings and
 * previews), so an SDK event passes unchanged and a longer one from elsewhere is cut to what the
 * SDK would have kept. One function for every path: the same over-long value is the same key
 * whichever way it came (cutId: never half a surrogate pair).
 */
export const EVENT_FIELD_CAPS = Object.freeze({
  /** user_id, session_id, conversation_id, event_id, category, service. */
  id: 256,
  /** source_ip (the SDK's addressChars). */
  sourceIp: 64,
  /** description (the SDK's textChars). */
  description: 1024,
  /** request_preview, response_preview. */
  preview: PREVIEW_MAX_CHARS,
  /** A metadata string, or one string of a metadata array (payload_fingerprint among them). */
  metadataString: 1024,
});

/**
 * Cuts `event`'s over-long strings in place (metadata is copied before a cut: it may be shared)
 * and returns how many it cut, for the caller's count. Linear in the event's size.
 *
 * `longest`: a bound the caller knows on every string's length, such as the length of the JSON
 * line the event was parsed from (a string in it is shorter than the line). Metadata, the costly
 * part (a loop over keys of many shapes, ~100 ns an event of the replay corpus), is looked at
 * only when a string could be over its cap; most lines are shorter than that.
 */
export function capEventFields(event: SecurityEvent, longest = Infinity): number {
  const C = EVENT_FIELD_CAPS;
  if (longest <= C.sourceIp) return 0;
  let cut = 0;
  if (event.event_id.length > C.id) ((event.event_id = cutId(event.event_id, C.id)), cut++);
  if (event.category.length > C.id) ((event.category = cutId(event.category, C.id)), cut++);
  if (event.user_id.length > C.id) ((event.user_id = cutId(event.user_id, C.id)), cut++);
  const { session_id, conversation_id, source_ip, service, description } = event;
  if (session_id !== undefined && session_id.length > C.id)
    ((event.session_id = cutId(session_id, C.id)), cut++);
  if (conversation_id !== undefined && conversation_id.length > C.id)
    ((event.conversation_id = cutId(conversation_id, C.id)), cut++);
  if (source_ip !== undefined && source_ip.length > C.sourceIp)
    ((event.source_ip = cutId(source_ip, C.sourceIp)), cut++);
  if (service !== undefined && service.length > C.id) ((event.service = cutId(service, C.id)), cut++);
  if (description !== undefined && description.length > C.description)
    ((event.description = cutId(description, C.description)), cut++);
  const { request_preview, response_preview } = event;
  if (request_preview !== undefined && request_preview.length > C.preview)
    ((event.request_preview = cutId(request_preview, C.preview)), cut++);
  if (response_preview !== undefined && response_preview.length > C.preview)
    ((event.response_preview = cutId(response_preview, C.preview)), cut++);
  if (event.metadata !== undefined && longest > C.metadataString) cut += capMetadata(event);
  return cut;
}

function capMetadata(event: SecurityEvent): number {
  const max = EVENT_FIELD_CAPS.metadataString;
  const src = event.metadata!;
  let out: Metadata | undefined;
  let cut = 0;
  for (const key in src) {
    const v = src[key];
    if (typeof v === 'string') {
      if (v.length <= max) continue;
      (out ??= { ...src })[key] = cutId(v, max);
      cut++;
    } else if (Array.isArray(v)) {
      let items: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        const item: unknown = v[i];
        if (typeof item !== 'string' || item.length <= max) continue;
        (items ??= [...(v as unknown[])])[i] = cutId(item, max);
        cut++;
      }
      if (items !== undefined) (out ??= { ...src })[key] = items as string[];
    }
  }
  if (out !== undefined) event.metadata = out;
  return cut;
}
