import { hash } from 'node:crypto';
import type { SecurityEvent } from '@llmsec/core';

/**
 * What a process's `ingestOnce` remembers of an event on a shared state: its id and a digest
 * of the whole event, so only an exact copy (the span event and the log record of one event,
 * an export sent again) is dropped before shipping. The shared state decides repeats per group
 * (group-runner: among the group's pending events and last processed ids), the same for every
 * process; a process dropping by id alone dropped a second event with the id in other groups
 * (a bug or a forged id) that the fleet counts there, so one process on Redis gave another
 * answer than several. An exact copy has the copy's groups, where the shared state drops it
 * too, so dropping it here changes nothing but the shipping. Copies that differ in any byte
 * (key order, a field one feed adds) are shipped and dropped there.
 */
export function copyKey(event: SecurityEvent): string {
  let text: string;
  try {
    text = JSON.stringify(event);
  } catch {
    // A value JSON cannot write (a cycle, a bigint) in an event built by hand: its id, as before.
    return event.event_id;
  }
  return `${event.event_id}\u0000${hash('sha1', text, 'base64url')}`;
}
