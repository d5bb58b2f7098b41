import { trace, type Context, type HrTime, type Span } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { CATEGORIES, eventName } from '@llmsec/core';

/**
 * What SecurityEvents' record() remembers from one event to the next, because events come in
 * bursts: the last event time as an HrTime, the last context built to carry a given span, and
 * the span event name of each category. Each keeps at most one entry (or one per category).
 */

/**
 * Events come in bursts within one millisecond (a call's guard events and its request_completed):
 * the last HrTime is reused, frozen, as the span event's and the log record's time (both SDKs keep
 * an HrTime they are given as is and only read it), saving the conversion and an array per event.
 */
let lastTimeMs = Number.NaN;
let lastHrTime: HrTime = [0, 0];
/**
 * An event before 1970 (a valid RFC 3339 timestamp) is given the epoch: OTLP times are unsigned
 * nanoseconds, and the http/json exporters write a negative HrTime as "-1000000000", for which a
 * Collector or llmsec detector refuses the whole request, every record batched with it lost. The
 * event's own time is in its llmsec.event.timestamp attribute, which is what readers use.
 */
export function hrTimeOf(ms: number): HrTime {
  if (ms !== lastTimeMs) {
    lastHrTime = Object.freeze(millisToHrTime(ms > 0 ? ms : 0)) as unknown as HrTime;
    lastTimeMs = ms;
  }
  return lastHrTime;
}

/**
 * `trace.setSpan(active, span)`, remembered for the last pair: events for a span given outside its
 * context come in bursts (a call's events, a batch of findings for one request), and setSpan copies
 * the context's map each time (~500 bytes). Contexts are immutable, so the same pair always yields
 * an equal context; only its identity is shared. Keeps the last context (and its span) alive until
 * the next event for another pair, as the security-context memo in event-builder.ts does.
 */
let lastActive: Context | undefined;
let lastGiven: Span | undefined;
let lastWithSpan: Context | undefined;
export function contextWithSpan(active: Context, span: Span): Context {
  if (active !== lastActive || span !== lastGiven || lastWithSpan === undefined) {
    lastWithSpan = trace.setSpan(active, span);
    lastActive = active;
    lastGiven = span;
  }
  return lastWithSpan;
}

/** `llmsec.<category>` per known category, built once: a concatenation per event is a new (cons) string the exporters flatten. */
const SPAN_EVENT_NAMES = new Map<string, string>(CATEGORIES.map((c) => [c, eventName(c)]));
// The last category's name: events of one kind come in bursts (a call's request_completed, a
// stream's findings), and comparing the category with the last one (the same constant string,
// so one pointer comparison) costs less than the map lookup.
let lastCategory = '';
let lastName = '';
export function spanEventName(category: string): string {
  if (category === lastCategory) return lastName;
  const name = SPAN_EVENT_NAMES.get(category) ?? eventName(category);
  lastCategory = category;
  lastName = name;
  return name;
}
