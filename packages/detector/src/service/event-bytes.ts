// What a queued event holds in memory, so the ingest queue can be bounded in bytes and not only
// in events: a sender may fill every metadata key core keeps (256 strings of 1,024 units each,
// ~0.5 MB an event), and the queue holds up to queue_capacity events while the engine (its
// Redis flusher) is behind. Right only for events whose cut strings were detached
// (otlp/detach-strings.ts): a slice holds its whole parent.
import type { SecurityEvent } from '@llmsec/core';
import { STRING_FIELDS } from '../otlp/detach-strings.ts';

/** Fixed cost of one event (object, fields, the batch's time entry), a rough upper figure. */
const EVENT_OVERHEAD = 512;
/** Per array item (slot, string header). */
const ENTRY_OVERHEAD = 32;
/**
 * Per metadata entry, besides its key's characters and its value: the property's slot in the
 * object's dictionary (with the table's spare capacity) or its hidden class and descriptors, and
 * the key's string header and string-table entry when the name is the event's own (a hostile
 * sender's names are). Measured (test/ingest-queue-shapes.test.ts): up to ~110 bytes an entry
 * with names of their own, ~50 with shared names.
 */
const METADATA_ENTRY_OVERHEAD = 128;
/** A number that is no small integer is a heap number of its own. */
const NUMBER_BYTES = 16;

/** Bytes of a string's characters (two per UTF-16 unit: an upper figure for one-byte strings). */
const stringBytes = (s: string): number => 2 * s.length;

/** An estimate (from above) of the bytes `event` holds, its cut strings detached. */
export function eventBytes(event: SecurityEvent): number {
  let bytes = EVENT_OVERHEAD;
  for (const field of STRING_FIELDS) {
    const v = event[field];
    if (typeof v === 'string') bytes += stringBytes(v);
  }
  const metadata = event.metadata as Record<string, unknown> | undefined;
  if (metadata !== undefined) {
    for (const key in metadata) {
      bytes += METADATA_ENTRY_OVERHEAD + stringBytes(key) + valueBytes(metadata[key]);
    }
  }
  const correlated = event.correlated_events;
  if (correlated !== undefined) for (const id of correlated) bytes += ENTRY_OVERHEAD + stringBytes(id);
  return bytes;
}

function valueBytes(v: unknown): number {
  if (typeof v === 'string') return stringBytes(v);
  if (Array.isArray(v)) {
    let bytes = 0;
    for (const item of v) bytes += ENTRY_OVERHEAD + (typeof item === 'string' ? stringBytes(item) : 8);
    return bytes;
  }
  return NUMBER_BYTES;
}
