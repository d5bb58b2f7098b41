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
  /**
   * Metadata keys kept (in the object's key order); the SDK writes at most ~15. A value that is
   * not the model's (a string, number or boolean, or an array of one of those types) is dropped
   * first and not counted: so nothing is nested below a metadata array, whatever a line or an
   * OTLP kvlist holds (the detector's decoders dropped those values already).
   */
  metadataKeys: 256,
  /**
   * Longest metadata key kept, in UTF-16 units (the SDK's are under 32); a longer one is dropped
   * with its value, before the count: no rule names such a key, and it would be held as is.
   */
  metadataKeyLength: 256,
  /**
   * Most items in a metadata array (the SDK writes at most 50); a longer array is dropped, as
   * the detector drops an OTLP array past its maxAttributes (1,024 by default).
   */
  metadataArrayItems: 1024,
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
  let cut = event.metadata !== undefined ? capMetadata(event, longest > C.metadataString) : 0;
  if (longest <= C.sourceIp) return cut;
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
  return cut;
}

/**
 * Whether `metadata` may be over a cap other than its strings' length: a value that is not a
 * string, number or boolean (an array, valid or not, says yes), or more keys than kept. For
 * readers that skip capEventFields on lines too short to hold a long string (replay's fast
 * reader): such a line may still hold these. A loop over the keys, no allocation.
 */
export function metadataMayBeOverCaps(metadata: object): boolean {
  let keys = 0;
  for (const key in metadata) {
    if (typeof (metadata as Record<string, unknown>)[key] === 'object') return true;
    if (key.length > EVENT_FIELD_CAPS.metadataKeyLength) return true;
    keys++;
  }
  return keys > EVENT_FIELD_CAPS.metadataKeys;
}

/**
 * Own-key checks inside `for…in` loops (every JSONL line and event read): TurboFan turns
 * `hasOwnProperty.call(o, key)` on the loop's own object and key into a map check, where
 * `Object.hasOwn` stays a call per key (the sdk's event-builder.ts measured 16–22 ns against
 * 38–52 ns per two-key object). Held here, not imported: from another module it is a call again.
 */
const hasOwnProperty = Object.prototype.hasOwnProperty;

/** A metadata value of core's model: one of these types, or an array of one of them. */
function scalar(v: unknown): boolean {
  const t = typeof v;
  return t === 'string' || t === 'number' || t === 'boolean';
}

function modelArray(v: readonly unknown[]): boolean {
  if (v.length === 0) return true;
  if (v.length > EVENT_FIELD_CAPS.metadataArrayItems) return false;
  const first = typeof v[0];
  if (first !== 'string' && first !== 'number' && first !== 'boolean') return false;
  for (let i = 1; i < v.length; i++) if (typeof v[i] !== first) return false;
  return true;
}

/**
 * Metadata to the caps: values outside the model dropped (null, objects, nested or mixed
 * arrays, arrays over metadataArrayItems) and keys over metadataKeyLength, then at most metadataKeys keys kept, and (`cutStrings`) strings cut. Copied before
 * any change: the object may be shared. Returns the number of values dropped or cut. Linear
 * in the keys and array items; never walks below an array's items, however deep a line nests.
 */
function capMetadata(event: SecurityEvent, cutStrings: boolean): number {
  const C = EVENT_FIELD_CAPS;
  const max = C.metadataString;
  const src = event.metadata!;
  let out: Metadata | undefined;
  let changed = 0;
  let kept = 0;
  for (const key in src) {
    const v: unknown = src[key];
    // An inherited key (a polluted Object.prototype) is not the event's: dropped, as the sdk's
    // builder drops it, so no path copies it into an event as its own.
    const keep =
      hasOwnProperty.call(src, key) &&
      kept < C.metadataKeys &&
      key.length <= C.metadataKeyLength &&
      (scalar(v) || (Array.isArray(v) && modelArray(v)));
    if (!keep) {
      // Dropped: the copy starts without it (keys before it copied, later ones added below).
      out ??= copyBefore(src, key);
      changed++;
      continue;
    }
    kept++;
    let value = v as Metadata[string];
    if (cutStrings) {
      if (typeof v === 'string') {
        if (v.length > max) ((value = cutId(v, max)), changed++);
      } else if (Array.isArray(v)) {
        let items: unknown[] | undefined;
        for (let i = 0; i < v.length; i++) {
          const item: unknown = v[i];
          if (typeof item !== 'string' || item.length <= max) continue;
          (items ??= [...(v as unknown[])])[i] = cutId(item, max);
          changed++;
        }
        if (items !== undefined) value = items as string[];
      }
    }
    if (out !== undefined) setKey(out, key, value);
    else if (value !== v) setKey((out = copyBefore(src, key)), key, value);
  }
  if (out !== undefined) event.metadata = out;
  return changed;
}

/** A copy of `src`'s entries before `stop` (in key order). */
function copyBefore(src: Metadata, stop: string): Metadata {
  const out: Metadata = {};
  for (const key in src) {
    if (key === stop) break;
    if (hasOwnProperty.call(src, key)) setKey(out, key, src[key]!);
  }
  return out;
}

/** out[key] = value, where a `__proto__` key is data, not the object's prototype. */
function setKey(out: Metadata, key: string, value: Metadata[string]): void {
  if (key === '__proto__') {
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    out[key] = value;
  }
}
