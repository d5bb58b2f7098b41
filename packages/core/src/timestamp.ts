/** RFC 3339 date-time with a zone (`Z` or `±hh:mm`); the calendar is checked below. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Date.parse rolls impossible dates over (`2026-02-30` becomes 2 March, `24:00:00` the next
 * day) instead of rejecting them, so the calendar fields are checked here first.
 */
function validCalendar(value: string): boolean {
  const year = Number(value.slice(0, 4));
  const month = Number(value.slice(5, 7));
  const day = Number(value.slice(8, 10));
  const hour = Number(value.slice(11, 13));
  if (month < 1 || month > 12 || day < 1 || hour > 23) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
  return day <= days;
}

/** Milliseconds since the epoch, or NaN when `value` is not an RFC 3339 timestamp with zone. */
export function parseTimestamp(value: string): number {
  if (!RFC3339.test(value) || !validCalendar(value)) return Number.NaN;
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
