/**
 * The few Structured Field Values (RFC 9651) serializers the rate-limit fields need: List
 * members that are Strings with Integer, String and Byte Sequence parameters.
 */

export type BareItem = string | number | Uint8Array;

/** RFC 9651 §3.3.1: Integers have at most 15 digits. */
const MAX_SF_INTEGER = 999_999_999_999_999;

/** Keys: lowercase letter or `*`, then lowercase letters, digits, `_ - . *` (RFC 9651 §3.1.2). */
const KEY = /^[a-z*][a-z0-9_\-.*]*$/;

export function serializeString(value: string): string {
  // Strings are printable ASCII only; anything else is replaced rather than sent invalid.
  const printable = value.replace(/[^\x20-\x7e]/g, '?');
  return `"${printable.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function serializeInteger(value: number): string {
  const n = Number.isFinite(value) ? Math.trunc(value) : 0;
  return String(Math.max(-MAX_SF_INTEGER, Math.min(MAX_SF_INTEGER, n)));
}

export function serializeBytes(value: Uint8Array): string {
  return `:${Buffer.from(value).toString('base64')}:`;
}

function serializeBare(value: BareItem): string {
  if (typeof value === 'string') return serializeString(value);
  if (typeof value === 'number') return serializeInteger(value);
  return serializeBytes(value);
}

/** `"name";k1=v1;k2=v2` — parameters in the given order, undefined ones skipped. */
export function serializeItem(
  name: string,
  params: ReadonlyArray<readonly [string, BareItem | undefined]>,
): string {
  let out = serializeString(name);
  for (const [key, value] of params) {
    if (value === undefined) continue;
    if (!KEY.test(key)) throw new Error(`invalid structured-field parameter key: ${key}`);
    out += `;${key}=${serializeBare(value)}`;
  }
  return out;
}

export function serializeList(items: readonly string[]): string {
  return items.join(', ');
}
