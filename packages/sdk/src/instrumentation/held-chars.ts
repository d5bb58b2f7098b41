/**
 * The characters a held stream item stands for, as the hold's cap counts them (stream-limit.ts
 * MAX_HELD_CHARS): every string's length and every key's, and one for each value, about the
 * item's JSON length. Walks the item once (linear in its size, no allocation below MAX_DEPTH);
 * only items a stream holds back are counted, never the common unheld item.
 */
export function itemChars(value: unknown): number {
  return chars(value, 0);
}

/** Nesting walked in place; a deeper value (not a real chunk's shape) is counted by its JSON text. */
const MAX_DEPTH = 64;

function chars(value: unknown, depth: number): number {
  if (typeof value === 'string') return value.length + 1;
  if (typeof value !== 'object' || value === null) return 1;
  if (depth >= MAX_DEPTH) return jsonChars(value);
  let n = 1;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) n += chars(value[i], depth + 1);
    return n;
  }
  const o = value as Record<string, unknown>;
  for (const k in o) n += k.length + chars(o[k], depth + 1);
  return n;
}

/** A deep value's JSON length; one that has none (a cycle) counts as too long: the stream is cut. */
function jsonChars(value: object): number {
  try {
    return JSON.stringify(value)?.length ?? 1;
  } catch {
    return Infinity;
  }
}
