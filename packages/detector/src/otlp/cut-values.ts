// Attribute string values over maxStringBytes, kept cut for llmsec events while every other
// reader sees them dropped (null).
//
// The decoders drop such a value (null, counted in droppedValues): a GenAI span's prompt past the
// cap has an unknown length, and measuring a part of it would be wrong (genai-span.ts). An llmsec
// event's field is different: every reader of the JSONL format cuts it to core's field caps
// (capEventFields: at most 1,024 UTF-16 units) and keeps the event, so the detector must too, or
// one event would be another group, or no event at all (a user_id over the cap), depending on the
// path it came by. For that cut only the value's first units matter: the decoders keep
// PREFIX_UNITS of them (reading at most PREFIX_BYTES of a protobuf value, whatever its length)
// beside the decoded value, and to-event.ts puts them back for the fields it reads.
//
// Beside, not in: the decoded value stays null for every other reader. The prefixes are held in
// a WeakMap keyed by the attributes object (or array) that holds the null, so they live as long
// as the decoded record and cost nothing when no value was over the cap.
import { EVENT_FIELD_CAPS } from '@llmsec/core/internal';
import type { AttrValue } from './types.ts';

/**
 * One more unit than the longest field cap: cutId(prefix, cap) then equals cutId(whole, cap) for
 * every cap (cutId looks at the unit before the cut, so the prefix must reach past it).
 */
export const PREFIX_UNITS =
  Math.max(
    EVENT_FIELD_CAPS.id,
    EVENT_FIELD_CAPS.sourceIp,
    EVENT_FIELD_CAPS.description,
    EVENT_FIELD_CAPS.preview,
    EVENT_FIELD_CAPS.metadataString,
  ) + 1;

/** UTF-8 is at most 3 bytes per UTF-16 unit; 3 more for a character cut at the end. */
export const PREFIX_BYTES = 3 * PREFIX_UNITS + 3;

/**
 * Remembered for a value dropped for its size that is no string (an array past maxAttributes,
 * bytes over maxStringBytes): no event field but metadata and correlated_events takes one of
 * those kinds, and core's JSONL reader refuses a line whose session_id (say) is a list, so
 * to-event.ts puts this back for such a field and the record is no event, as the same list a
 * little shorter is not, instead of reading the field as absent. Only for an attribute's own
 * value: an array holding such a value is no event field's kind already.
 */
export const DROPPED_OTHER_KIND = true;

/** What one container's dropped values were, cut: key (or array index) → the value, cut. */
type Cuts = Map<string | number, AttrValue>;

const cuts = new WeakMap<object, Cuts>();

/** Remembers that `container[key]`, decoded as null (or holding nulls), is `cut` cut. */
export function rememberCut(container: object, key: string | number, cut: AttrValue): void {
  let own = cuts.get(container);
  if (own === undefined) cuts.set(container, (own = new Map()));
  own.set(key, cut);
}

/**
 * Sets `container[key]`, decoded as `value` with `cut` (undefined: none), and what is remembered
 * of it: a key repeated in one list keeps its last value, so a cut an earlier value left is
 * forgotten. Looked up only for a value that could take one back (null, or an array whose
 * nulls could): a string, number or map never does (prefixCount), and the WeakMap is not
 * touched per attribute.
 */
export function noteCut(container: object, key: string, value: AttrValue, cut: AttrValue | undefined): void {
  if (cut !== undefined) rememberCut(container, key, cut);
  else if (value === null || Array.isArray(value)) cuts.get(container)?.delete(key);
}

/** The cut values of `container`'s dropped ones, if it has any. */
export function cutsOf(container: object): ReadonlyMap<string | number, AttrValue> | undefined {
  return cuts.get(container);
}

/**
 * `items` (an array being decoded) with its dropped values' cuts in place: undefined when none of
 * `itemCuts` (index → cut) is set. A copy: the decoded array keeps its nulls.
 */
export function withItemCuts(
  items: readonly AttrValue[],
  itemCuts: Cuts | undefined,
): AttrValue[] | undefined {
  if (itemCuts === undefined) return undefined;
  const out = items.slice();
  for (const [i, v] of itemCuts) out[i as number] = v;
  return out;
}

/** How many values dropped from `decoded` (each counted when decoded) `cut` holds cut. */
export function prefixCount(decoded: AttrValue, cut: AttrValue): number {
  if (decoded === null) return typeof cut === 'string' ? 1 : 0;
  if (!Array.isArray(decoded) || !Array.isArray(cut)) return 0;
  const items = decoded as readonly AttrValue[];
  let n = 0;
  for (let i = 0; i < items.length; i++) n += prefixCount(items[i]!, (cut as readonly AttrValue[])[i]!);
  return n;
}

/**
 * The first PREFIX_UNITS units of the over-cap protobuf string `bytes[start, end)`, reading at most
 * PREFIX_BYTES of it: exactly the whole value's first units as the short path (Buffer's UTF-8)
 * decodes it. A value longer than that is stream-decoded, so a character cut at the end of the
 * bytes read is left out; a shorter one (max_string_bytes under PREFIX_BYTES) is decoded whole, so
 * broken bytes at its own end are U+FFFD as on the short path. ignoreBOM: a TextDecoder otherwise
 * strips a leading U+FEFF, which Buffer and core's JSONL reader keep (another id, another group).
 */
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
export function utf8Prefix(bytes: Uint8Array, start: number, end: number): string {
  let text: string;
  if (end - start <= PREFIX_BYTES) text = decoder.decode(bytes.subarray(start, end));
  else {
    text = decoder.decode(bytes.subarray(start, start + PREFIX_BYTES), { stream: true });
    decoder.decode(); // ends the stream: the held bytes of a cut character are dropped
  }
  return text.length > PREFIX_UNITS ? text.slice(0, PREFIX_UNITS) : text;
}
