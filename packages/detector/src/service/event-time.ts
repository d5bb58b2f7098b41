import { parseTimestamp } from '@llmsec/core';

// An event's time in epoch ms, as core's parseTimestamp gives it, with a fast path for the one
// form nearly every event carries: `YYYY-MM-DDTHH:MM:SS.sssZ`, what the SDK writes
// (Date#toISOString). parseTimestamp checks the form with a regular expression, slices the
// calendar fields out and calls Date.parse: ~350 ns per event, as much as turning the record
// into an event. Here the 24 characters are read once as digits and the date is counted in
// days (no allocation). Anything else, including a field out of range, goes to parseTimestamp,
// so both give the same number or NaN for every string (property test in test/event-time).

const ISO_LENGTH = 24;
const MS_PER_DAY = 86_400_000;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The value of the two decimal digits at `at`, or -1 when they are not two digits. */
function two(s: string, at: number): number {
  const a = s.charCodeAt(at) - 48;
  const b = s.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/** Days from 1970-01-01 to the given proleptic Gregorian date (month 1-12). */
function daysFromCivil(year: number, month: number, day: number): number {
  // Years counted from March, so the leap day is the last day of the year (H. Hinnant's
  // days_from_civil); year >= 1 here, so the era arithmetic needs no floor of negatives.
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** Milliseconds since the epoch, or NaN when `value` is not an RFC 3339 timestamp with zone. */
export function eventTimeMs(value: string): number {
  if (
    value.length !== ISO_LENGTH ||
    value.charCodeAt(4) !== 45 || // -
    value.charCodeAt(7) !== 45 ||
    value.charCodeAt(10) !== 84 || // T
    value.charCodeAt(13) !== 58 || // :
    value.charCodeAt(16) !== 58 ||
    value.charCodeAt(19) !== 46 || // .
    value.charCodeAt(23) !== 90 // Z
  ) {
    return parseTimestamp(value);
  }
  const century = two(value, 0);
  const yy = two(value, 2);
  const month = two(value, 5);
  const day = two(value, 8);
  const hour = two(value, 11);
  const minute = two(value, 14);
  const second = two(value, 17);
  const msHigh = two(value, 20);
  const msLow = value.charCodeAt(22) - 48;
  // Years before 1000 and any field out of its range: parseTimestamp decides (NaN, or what
  // Date.parse makes of it).
  if (
    century < 10 ||
    yy < 0 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    hour < 0 ||
    hour > 23 ||
    minute < 0 ||
    minute > 59 ||
    second < 0 ||
    second > 59 ||
    msHigh < 0 ||
    msLow < 0 ||
    msLow > 9
  ) {
    return parseTimestamp(value);
  }
  const year = century * 100 + yy;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return Number.NaN;
  return (
    daysFromCivil(year, month, day) * MS_PER_DAY +
    ((hour * 60 + minute) * 60 + second) * 1000 +
    msHigh * 10 +
    msLow
  );
}
