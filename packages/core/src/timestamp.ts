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

/**
 * A leap second, `23:59:60` UTC (RFC 3339 §5.6 allows second 60; in a zone with an offset, the
 * local time that is 23:59 UTC), is read as the minute's last millisecond, :59.999, whatever
 * its fraction: epoch milliseconds have no 61st second, and the clamp keeps the leap second's
 * events in order with their neighbours (read as the next second's instant, an event at
 * :60.5 would come after one at 00:00:00.2 written later). Any date (no leap-second table:
 * the IERS announces them six months ahead). A :60 at another minute is refused, as Date.parse
 * refuses every :60.
 */
function leapSecond(value: string): number {
  const n = value.length;
  const last = value.charCodeAt(n - 1);
  let offset = 0;
  if (last !== 90 /* Z */ && last !== 122 /* z */) {
    offset = Number(value.slice(n - 5, n - 3)) * 60 + Number(value.slice(n - 2));
    if (value.charCodeAt(n - 6) === 45 /* - */) offset = -offset;
  }
  const local = Number(value.slice(11, 13)) * 60 + Number(value.slice(14, 16));
  if ((((local - offset) % 1440) + 1440) % 1440 !== 1439) return Number.NaN;
  const zone = last === 90 || last === 122 ? 'Z' : value.slice(n - 6);
  return Date.parse(`${value.slice(0, 17)}59.999${zone}`);
}

/**
 * Milliseconds since the epoch, or NaN when `value` is not an RFC 3339 timestamp with zone.
 * A leap second (`23:59:60` UTC) reads as that minute's :59.999 (leapSecond).
 */
export function parseTimestamp(value: string): number {
  if (!RFC3339.test(value) || !validCalendar(value)) return Number.NaN;
  if (value.charCodeAt(17) === 54 /* 6 */ && value.charCodeAt(18) === 48 /* 0 */) return leapSecond(value);
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
