import { ALERT_EVENT_NAME, type SecurityEvent } from '@llmsec/core';
import { capEventFields, EVENT_FIELD_CAPS } from '@llmsec/core/internal';
import { detachCutStrings } from '../otlp/detach-strings.ts';
import { droppedValues } from '../otlp/dropped-values.ts';
import {
  isLlmsecEventName,
  logRecordToEvent as decodeLogRecord,
  spanEventToEvent,
} from '../otlp/to-event.ts';
import type { DecodedLogRecord, DecodedSpan, DecodedSpanEvent } from '../otlp/types.ts';
import { eventBytes } from './event-bytes.ts';
import { eventTimeMs } from './event-time.ts';
import { genAiSpanToEvent, type GenAiSpanOptions } from './genai-span.ts';

/**
 * Why a record was not usable. A bounded set: it is a metric label and the OTLP
 * partial_success message.
 */
export type RejectReason =
  /** A log record not named `llmsec.<category>` (the Collector's filter should not send it). */
  | 'not_llmsec'
  /** An `llmsec.alert` record: an alert, perhaps our own, looped back; alerts are not events. */
  | 'alert_record'
  /** Named `llmsec.*` but not a complete event (missing id, category, severity, time, user). */
  | 'invalid_event'
  /** A span with no llmsec span events that is not a GenAI model request. */
  | 'not_genai'
  /**
   * A record or span past a decode cap of its own (otlp.limits: attributes, span events, a
   * name), or under a resource or scope past one: rejected alone, the request's others taken.
   */
  | 'over_cap';

/** The reasons each signal can give. */
export const REJECT_REASONS: Readonly<Record<'logs' | 'traces', readonly RejectReason[]>> = {
  logs: ['not_llmsec', 'alert_record', 'invalid_event', 'over_cap'],
  traces: ['invalid_event', 'not_genai', 'over_cap'],
};

/**
 * Events with their event time in epoch ms (parsed once here, so the engine does not parse
 * the timestamp again), as two parallel arrays: no wrapper object per event.
 */
export interface EventBatch {
  events: SecurityEvent[];
  times: number[];
  /** What the events hold in memory, estimated from above (event-bytes.ts); absent: 0. */
  bytes?: number;
}

export function newBatch(): EventBatch {
  return { events: [], times: [], bytes: 0 };
}

/** Appends an llmsec log record's event to `out`, or returns why it is not usable. */
export function logRecordToEvent(record: DecodedLogRecord, out: EventBatch): RejectReason | undefined {
  if (record.overCap !== undefined) return 'over_cap';
  if (!isLlmsecEventName(record.eventName, record.attributes))
    return record.eventName === ALERT_EVENT_NAME ? 'alert_record' : 'not_llmsec';
  return push(decodeLogRecord(record), out) ? undefined : 'invalid_event';
}

/**
 * The llmsec span events of taken spans that gave no event (dropped, the span kept): counted
 * for the export's partial_success error_message, with the attributes of the first, so the
 * sender hears what they lacked as for a rejected log record. OTLP counts spans, not events,
 * so they are not in rejected_spans.
 */
export interface UnusableSpanEvents {
  count: number;
  first: DecodedSpanEvent['attributes'] | undefined;
}

/**
 * Appends the events of one span to `out`: its llmsec span events, and for a GenAI span of
 * another instrumentation its request_completed. Returns the reason when the span gave
 * nothing usable; a span of llmsec's own instrumentation without llmsec events is usable (its
 * request_completed arrives as a span event or log record of its own), one whose llmsec events
 * are all unusable is not. A span with some usable events is taken, its unusable ones dropped.
 */
export function spanToEvents(
  span: DecodedSpan,
  genAi: GenAiSpanOptions,
  out: EventBatch,
  unusable?: UnusableSpanEvents,
): RejectReason | undefined {
  if (span.overCap !== undefined) return 'over_cap';
  const before = out.events.length;
  let invalid = 0;
  let firstInvalid: DecodedSpanEvent['attributes'] | undefined;
  for (const ev of span.events) {
    if (!isLlmsecEventName(ev.name, ev.attributes)) continue;
    if (push(spanEventToEvent(ev, span), out)) continue;
    invalid++;
    firstInvalid ??= ev.attributes;
  }
  const g = genAiSpanToEvent(span, genAi);
  if (g.kind === 'event') {
    out.events.push(capped(g.event));
    out.times.push(eventTimeMs(g.event.timestamp));
    out.bytes = (out.bytes ?? 0) + eventBytes(g.event);
  }
  if (out.events.length > before) {
    // The span is taken (OTLP counts spans whole), its unusable llmsec events dropped: counted
    // with the values a taken record lost (llmsec_detector_values_dropped_total) and said in
    // the partial_success message (rejected_spans stays 0: the span was taken).
    droppedValues.count += invalid;
    if (unusable !== undefined && invalid > 0) {
      unusable.count += invalid;
      unusable.first ??= firstInvalid;
    }
    return undefined;
  }
  // llmsec's own span is usable without events, not with only unusable ones: those are
  // reported (partial success, invalid_event) as under any other scope, not dropped unsaid.
  if (invalid > 0) return 'invalid_event';
  return g.kind === 'llmsec_sdk' ? undefined : 'not_genai';
}

/** Appends the event with its parsed time; false when there is none or its time is unreadable. */
function push(event: SecurityEvent | undefined, out: EventBatch): boolean {
  if (event === undefined) return false;
  // A timestamp the engine cannot read would only be dropped there: reject it here, counted.
  const timeMs = eventTimeMs(event.timestamp);
  if (Number.isNaN(timeMs)) return false;
  out.events.push(event);
  out.times.push(timeMs);
  out.bytes = (out.bytes ?? 0) + eventBytes(event);
  return true;
}

/** Longest user, session and conversation id kept, in UTF-16 units (core's, the SDK's). */
export const MAX_ID_CHARS = EVENT_FIELD_CAPS.id;

/**
 * A GenAI span's event cut to core's caps as llmsec records are (to-event.ts, which says why),
 * the cuts counted with them.
 */
function capped(event: SecurityEvent): SecurityEvent {
  const cuts = capEventFields(event);
  if (cuts > 0) {
    droppedValues.count += cuts;
    detachCutStrings(event);
  }
  return event;
}
