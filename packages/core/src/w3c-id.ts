const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * A W3C trace-context id as docs/formats.md has it: `length` hex digits (32 for a trace id, 16
 * for a span id), lowercase, not all zeros (the spec's invalid id). Uppercase digits are lowered
 * (the same id); any other string gives undefined. Events JSONL is read from logs that anything
 * can write, and an event's trace id goes into alerts (trace_ids, trigger) and trace links:
 * another tracer's format or a megabyte string must not. The length is checked first, so the
 * cost is bounded whatever the string; the common lowercase id takes one tight loop.
 */
export function w3cId(value: string, length: 32 | 16): string | undefined {
  if (value.length !== length) return undefined;
  for (let i = 0; i < length; i++) {
    const c = value.charCodeAt(i);
    // Not 0-9 and not a-f (unsigned compares: one branch each).
    if ((c - 48) >>> 0 > 9 && (c - 97) >>> 0 > 5) return upperCaseId(value, length);
  }
  return value === (length === 32 ? ZERO_TRACE : ZERO_SPAN) ? undefined : value;
}

/** An id with uppercase hex digits, lowered; undefined when any character is no hex digit. */
function upperCaseId(value: string, length: 32 | 16): string | undefined {
  const lower = value.toLowerCase();
  // toLowerCase can change the length (non-ASCII) and maps other letters: check again.
  if (lower.length !== length || lower === value) return undefined;
  for (let i = 0; i < length; i++) {
    const c = lower.charCodeAt(i);
    if ((c - 48) >>> 0 > 9 && (c - 97) >>> 0 > 5) return undefined;
  }
  return lower === (length === 32 ? ZERO_TRACE : ZERO_SPAN) ? undefined : lower;
}
