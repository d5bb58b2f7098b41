// Strings cut to core's caps are copied out of the values they were cut from: a slice keeps its
// whole parent alive in V8, so a 1,024-unit cut of a 60 KB metadata value held all 60 KB for as
// long as the event waited in the ingest queue (measured: 16 such values held ~950 KB per queued
// event, ~10 KB after), and the queue's byte bound (service/event-bytes.ts) could not see it.
import { Buffer } from 'node:buffer';
import type { SecurityEvent } from '@llmsec/core';

/** The SecurityEvent fields that are strings. */
export const STRING_FIELDS = [
  'event_id',
  'timestamp',
  'category',
  'severity',
  'user_id',
  'session_id',
  'conversation_id',
  'trace_id',
  'span_id',
  'source_ip',
  'service',
  'description',
  'request_preview',
  'response_preview',
] as const;

/** Longest string V8 copies on slice (shorter slices are copies already). */
const SLICE_MIN = 13;

/**
 * A copy of `s` with storage of its own (lossless for lone surrogates: UTF-16 round trip): for
 * a slice that is kept while what it was sliced from is not. Linear in `s`.
 */
export function detached(s: string): string {
  return s.length < SLICE_MIN ? s : Buffer.from(s, 'utf16le').toString('utf16le');
}

/**
 * Copies the event's strings into storage of their own, so that those cut to core's caps
 * (capEventFields slices them) no longer hold the values they were cut from. Only for an event
 * that had a cut: the others' strings were decoded into their own storage.
 */
export function detachCutStrings(event: SecurityEvent): void {
  const fields = event as unknown as Record<string, unknown>;
  for (const field of STRING_FIELDS) {
    const v = fields[field];
    if (typeof v === 'string') fields[field] = detached(v);
  }
  const metadata = event.metadata as Record<string, unknown> | undefined;
  if (metadata !== undefined) {
    for (const key in metadata) {
      const v = metadata[key];
      if (typeof v === 'string') metadata[key] = detached(v);
      else if (Array.isArray(v))
        metadata[key] = v.map((x: unknown) => (typeof x === 'string' ? detached(x) : x));
    }
  }
  if (event.correlated_events !== undefined) event.correlated_events = event.correlated_events.map(detached);
}
