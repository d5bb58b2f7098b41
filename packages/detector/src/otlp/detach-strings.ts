// Strings cut to core's caps are copied out of the values they were cut from: a slice keeps its
// whole parent alive in V8, so a 1,024-unit cut of a 60 KB metadata value held all 60 KB for as
// long as the event waited in the ingest queue (measured: 16 such values held ~950 KB per queued
// event, ~10 KB after), and the queue's byte bound (service/event-bytes.ts) could not see it.
import { Buffer } from 'node:buffer';
import { EVENT_FIELDS, type SecurityEvent } from '@llmsec/core';

/** The event fields that are not strings, handled on their own below and by event-bytes.ts. */
type NonStringField = 'metadata' | 'correlated_events';
type StringField = Exclude<(typeof EVENT_FIELDS)[number], NonStringField>;
/** Of `K`, the fields whose value is a string: all of StringField, or the filter below does not compile. */
type StringValued<K extends keyof SecurityEvent> = {
  [F in K]-?: NonNullable<SecurityEvent[F]> extends string ? F : never;
}[K];

const isStringField = (field: (typeof EVENT_FIELDS)[number]): field is StringField =>
  field !== 'metadata' && field !== 'correlated_events';

/**
 * The SecurityEvent fields that are strings: core's EVENT_FIELDS (every field, events.md) but
 * metadata and correlated_events, derived so that a field core adds is detached and counted
 * too. A field core adds that is no string fails to compile here (StringValued), to be added to
 * NonStringField and handled where metadata is.
 */
export const STRING_FIELDS: readonly StringValued<StringField>[] = EVENT_FIELDS.filter(isStringField);

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
