import type { Metadata, MetadataValue } from '@llmsec/core';
import { cutId } from '@llmsec/core/internal';

/**
 * Normalisation of caller input into values that survive JSON, OpenTelemetry attributes and
 * bounded storage. Bad input is repaired or dropped, never thrown: a security event is
 * recorded from inside the host application's request path.
 */

export const LIMITS = {
  /** Free text (description, reasons). */
  textChars: 1024,
  /** Metadata string values. */
  metadataStringChars: 1024,
  /** Metadata keys per event. */
  metadataKeys: 32,
  /** Entries in one array value (metadata arrays, correlated events). */
  arrayItems: 50,
  /** Characters of a metadata key. */
  keyChars: 64,
  /** Characters of a client address. */
  addressChars: 64,
} as const;

export function clipText(value: unknown, max: number): string | undefined {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    text = String(value);
  else return undefined;
  // cutId, not slice: never half a surrogate pair, and the same cut as every reader's
  // (core's capEventFields), so a value cut here and one cut on replay or in the detector match.
  return cutId(text, max);
}

/**
 * A number for JSON and attributes: NaN and non-numbers become undefined (dropped);
 * infinities are clamped to ±Number.MAX_SAFE_INTEGER (an "unlimited" limit stays huge, and
 * stays valid JSON, which Infinity is not). Numeric strings are accepted.
 */
export function finiteNumber(value: unknown): number | undefined {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'bigint') n = Number(value);
  else if (typeof value === 'string' && value.trim() !== '') n = Number(value);
  else return undefined;
  if (Number.isNaN(n)) return undefined;
  if (n === Infinity) return Number.MAX_SAFE_INTEGER;
  if (n === -Infinity) return -Number.MAX_SAFE_INTEGER;
  return n;
}

/** One metadata value as recorded (clipped text, finite number, boolean, attribute-safe array), or undefined: dropped. */
export function metadataValue(value: unknown): MetadataValue | undefined {
  switch (typeof value) {
    case 'string':
      return clipText(value, LIMITS.metadataStringChars);
    case 'number':
    case 'bigint':
      return finiteNumber(value);
    case 'boolean':
      return value;
    case 'object':
      return Array.isArray(value) ? metadataArray(value) : undefined;
    default:
      return undefined;
  }
}

/** Attributes accept only homogeneous arrays: all numbers and all booleans stay, else strings. */
function metadataArray(items: unknown[]): MetadataValue {
  const head = items.slice(0, LIMITS.arrayItems);
  if (head.every((v) => typeof v === 'boolean')) return head as boolean[];
  if (head.length > 0 && head.every((v) => typeof v === 'number' && Number.isFinite(v)))
    return head as number[];
  const out: string[] = [];
  for (const v of head) {
    const s = typeof v === 'object' && v !== null ? safeJson(v) : clipText(v, LIMITS.metadataStringChars);
    if (s !== undefined) out.push(s);
  }
  return out;
}

function safeJson(v: unknown): string | undefined {
  try {
    return clipText(JSON.stringify(v), LIMITS.metadataStringChars);
  } catch {
    return undefined;
  }
}

/**
 * Copies `raw` into a Metadata object: bounded key count and lengths, values normalised,
 * unusable values (objects, functions, NaN) dropped. Returns the dropped keys for a warning.
 */
export function normaliseMetadata(raw: unknown): { metadata: Metadata; dropped: string[] } {
  const metadata: Metadata = {};
  const dropped: string[] = [];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { metadata, dropped };
  let count = 0;
  for (const key of Object.keys(raw)) {
    const value = metadataValue((raw as Record<string, unknown>)[key]);
    if (value === undefined || count >= LIMITS.metadataKeys) {
      if ((raw as Record<string, unknown>)[key] !== undefined) dropped.push(key);
      continue;
    }
    const k = key.length > LIMITS.keyChars ? key.slice(0, LIMITS.keyChars) : key;
    // An own `__proto__` key (JSON.parse makes one) stored with `=` would set the prototype
    // (to the caller's array) and lose the key: defined as a plain own property instead.
    if (k === '__proto__')
      Object.defineProperty(metadata, k, { value, enumerable: true, writable: true, configurable: true });
    else metadata[k] = value;
    count++;
  }
  return { metadata, dropped };
}

export function stringList(value: unknown, maxChars: number): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: string[] = [];
  for (const v of value.slice(0, LIMITS.arrayItems)) {
    const s = clipText(v, maxChars);
    if (s !== undefined && s.length > 0) out.push(s);
  }
  return out;
}
