import { LIMITS } from './normalise.ts';

const hasOwnProperty = Object.prototype.hasOwnProperty;

/**
 * A category method's fields (`named`, in their metadata names) over the caller's extra
 * `metadata` (`raw`): `{ ...raw, ...defined named }`. An event keeps its first
 * `LIMITS.metadataKeys` (32) metadata keys, so when the merge holds more, the named fields go
 * first: a caller's extra keys must not push out the category's own (a request_completed with 40
 * custom keys lost its model, tokens, cost and blocked, and was counted as an allowed request).
 * Under the cap, keys and order are the spread's.
 */
export function mergeNamed(
  raw: Record<string, unknown>,
  named: Record<string, unknown>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...raw };
  for (const key in named)
    if (hasOwnProperty.call(named, key) && named[key] !== undefined) merged[key] = named[key];
  if (Object.keys(merged).length <= LIMITS.metadataKeys) return merged;
  const first: Record<string, unknown> = {};
  for (const key in named)
    if (hasOwnProperty.call(named, key) && named[key] !== undefined) first[key] = named[key];
  for (const key of Object.keys(raw)) {
    if (hasOwnProperty.call(first, key)) continue;
    // An own `__proto__` key (JSON.parse makes one) stored with `=` would set the prototype.
    Object.defineProperty(first, key, {
      value: raw[key],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return first;
}
