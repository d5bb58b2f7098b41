import type { HrTime } from '@opentelemetry/api';

/**
 * An event time (epoch ms) as the HrTime a log record is given. Not the number itself: the OTel
 * SDK reads a number below performance.timeOrigin / 2 (about 1998) as a performance.now() offset
 * and adds timeOrigin to it (@opentelemetry/core timeInputToHrTime), so a record about an event
 * of 1990 went out dated near today. Not a Date either: a time before 1970 would become a
 * negative HrTime, which the OTLP/JSON exporters write as "-1000000000", a time OTLP (unsigned
 * nanoseconds) does not have and for which a receiver refuses the whole request. Such a time is
 * given the epoch, as the SDK's own events are; the record's attributes keep the real one.
 */
export function logRecordTime(epochMs: number): HrTime {
  if (!(epochMs > 0)) return [0, 0];
  const seconds = Math.trunc(epochMs / 1000);
  return [seconds, Math.round((epochMs - seconds * 1000) * 1_000_000)];
}
