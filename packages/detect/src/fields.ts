// The JSONL-only subpath: replay's reader thread projects events with these getters and must
// not load @opentelemetry/api through core's main entry (start-up, issue 13).
import { EVENT_FIELDS, payloadFingerprint, type SecurityEvent } from '@llmsec/core/jsonl';

/**
 * Field paths of rule files, compiled once into getters so the hot path never parses a path.
 * `metadata.<key>` reads category metadata; `fingerprint` is the payload fingerprint of the
 * coordinated-campaign rule; any other name is a top-level event field.
 */
export type FieldGetter = (event: SecurityEvent) => unknown;

// The JSONL fields of events.md (conversation_id among them since it was added to the format).
const TOP_LEVEL: ReadonlySet<string> = new Set<string>(EVENT_FIELDS);

export const FINGERPRINT_FIELD = 'fingerprint';

/** Throws (at rule compilation) for a path that names nothing an event can carry. */
export function compileField(path: string): FieldGetter {
  if (path === FINGERPRINT_FIELD) return eventFingerprint;
  if (path.startsWith('metadata.')) {
    const key = path.slice('metadata.'.length);
    if (key.length === 0) throw new Error(`bad field path "${path}"`);
    return metadataGetter(key);
  }
  if (!TOP_LEVEL.has(path)) {
    throw new Error(
      `unknown field "${path}" (want an event field such as user_id, or metadata.<key>, or fingerprint)`,
    );
  }
  // Group keys are read for every event and rule: a static property load for the common ones
  // stays monomorphic where a computed key would not.
  switch (path) {
    case 'user_id':
      return (event) => event.user_id;
    case 'session_id':
      return (event) => event.session_id;
    case 'source_ip':
      return (event) => event.source_ip;
    case 'category':
      return (event) => event.category;
    case 'request_preview':
      return (event) => event.request_preview;
  }
  const key = path as keyof SecurityEvent;
  return (event) => event[key];
}

/**
 * All `metadata.<key>` getters would share one computed-key load site, which sees every key
 * and every metadata shape and so goes megamorphic; the keys of the categories' metadata
 * (core's model) get a named load each instead, which sees one key and few shapes.
 */
function metadataGetter(key: string): FieldGetter {
  switch (key) {
    case 'prompt_length':
      return (event) => event.metadata?.prompt_length;
    case 'new_input_length':
      return (event) => event.metadata?.new_input_length;
    case 'turn_index':
      return (event) => event.metadata?.turn_index;
    case 'prompt_tokens':
      return (event) => event.metadata?.prompt_tokens;
    case 'completion_tokens':
      return (event) => event.metadata?.completion_tokens;
    case 'blocked':
      return (event) => event.metadata?.blocked;
    case 'guardrail_layer':
      return (event) => event.metadata?.guardrail_layer;
    case 'block_reason':
      return (event) => event.metadata?.block_reason;
    case 'model':
      return (event) => event.metadata?.model;
    case 'latency_ms':
      return (event) => event.metadata?.latency_ms;
    case 'cost_usd':
      return (event) => event.metadata?.cost_usd;
    case 'input_source':
      return (event) => event.metadata?.input_source;
    case 'block_source':
      return (event) => event.metadata?.block_source;
    // Not in core's model, but the SDK sets them on a failed call and two default request
    // rules filter on both: every request_completed read them four times through the
    // computed-key getter below, a megamorphic load (issue 13, fourteenth round).
    case 'outcome':
      return (event) => event.metadata?.outcome;
    case 'error':
      return (event) => event.metadata?.error;
  }
  return (event) => event.metadata?.[key];
}

export function isKnownField(path: string): boolean {
  return (
    path === FINGERPRINT_FIELD || TOP_LEVEL.has(path) || (path.startsWith('metadata.') && path.length > 9)
  );
}

/**
 * Hashing a preview costs about a microsecond, and campaigns repeat one payload by design, so
 * recent previews are memoised (bounded; the oldest half is dropped when full).
 */
const FP_CACHE_MAX = 4096;
let fpCache = new Map<string, string>();
let fpCacheOld = new Map<string, string>();

export function fingerprintOf(preview: string): string {
  let fp = fpCache.get(preview);
  if (fp !== undefined) return fp;
  fp = fpCacheOld.get(preview) ?? payloadFingerprint(preview);
  if (fpCache.size >= FP_CACHE_MAX) {
    fpCacheOld = fpCache;
    fpCache = new Map();
  }
  fpCache.set(preview, fp);
  return fp;
}

/**
 * The payload identity of a block event: the `payload_fingerprint` the SDK records (an HMAC
 * under the deployment's key, so replay needs no key), else, for events without one (older
 * logs), the unkeyed fingerprint of the preview.
 */
export function eventFingerprint(event: SecurityEvent): string | undefined {
  const fp = event.metadata?.payload_fingerprint;
  if (typeof fp === 'string' && fp.length > 0) return fp;
  const preview = event.request_preview;
  return preview ? fingerprintOf(preview) : undefined;
}

/** A group key as a string, or undefined when the event has none (the rule skips it). */
export function keyString(value: unknown): string | undefined {
  if (typeof value === 'string') return value.length > 0 ? value : undefined;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * A scalar's text as a group key has it (keyString's, without its empty-string rule): strings as
 * they are, numbers and booleans by String(); anything else (absent, objects, lists) none.
 */
export function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * Whether an event value is a rule file's scalar `want` (where `equals`, a ratio's `equals`):
 * the same value, or the same text in another type (the number 429 and the string '429', true
 * and 'true'). group_by makes one group of those (keyString, and alert labels are text), so a
 * filter must not tell apart what the group joins: the status 429 one producer writes as a
 * number and another as a string is one status. Same-type values compare as they are (no
 * String() per event on the hot path: 429 vs 430 is a plain comparison).
 */
export function sameScalar(value: unknown, want: string | number | boolean, wantText: string): boolean {
  if (value === want) return true;
  const type = typeof value;
  if (type === typeof want) return false;
  return (type === 'string' || type === 'number' || type === 'boolean') && String(value) === wantText;
}

/** A positive magnitude: numbers as they are, strings by length; anything else is 0. */
export function magnitude(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? value : 0;
  if (typeof value === 'string') return value.length;
  return 0;
}
