/** RFC 3339 date-time with a zone (`Z` or `±hh:mm`); the date part is checked by Date.parse. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** Milliseconds since the epoch, or NaN when `value` is not an RFC 3339 timestamp with zone. */
export function parseTimestamp(value: string): number {
  if (!RFC3339.test(value)) return Number.NaN;
  // Date.parse accepts at most millisecond precision reliably: trim extra fraction digits.
  const dot = value.indexOf('.');
  if (dot > 0) {
    let end = dot + 1;
    while (end < value.length && value.charCodeAt(end) >= 48 && value.charCodeAt(end) <= 57) end++;
    if (end - dot > 4) value = value.slice(0, dot + 4) + value.slice(end);
  }
  return Date.parse(value);
}

export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString();
}
