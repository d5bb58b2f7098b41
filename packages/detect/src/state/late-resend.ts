import type { Held } from './held-batch.ts';
import type { Work } from './round-work.ts';

/**
 * A held batch's resend (HeldBatch) whose events the fleet's groups left behind while this
 * process was cut off: another replica's events moved a group's processed time past them, so a
 * group where the first write had not landed found them late and dropped them, and they were
 * counted nowhere (not locally either: held, they never reached the local engine). Five blocks
 * held, five taken while degraded, another replica's block five minutes on: the local engine
 * held five (the degraded ones, sent back as too old for Redis), Redis none, and the user's ten
 * opened nothing (redis-late-reply-count.test.ts).
 *
 * So a resend's late events are sorted per event (its id) once the round stood: late in every
 * group it went to, it goes to the local engine (`local`), whose time waited for it
 * (FallbackFeed.moveTowards); taken or a repeat in any other group (it is in Redis there, and
 * the local engine would count it in that group-by's rules again), it stays late in those
 * where it was (`late`, counted as before). A copy of an id in the batch goes once.
 */
export function splitLateResend(
  batch: readonly Held[],
  work: Iterable<Work>,
  lateResent: readonly { event: { event_id: string } }[],
): { local: Held[]; late: number } {
  if (lateResent.length === 0) return { local: [], late: 0 };
  const lateIn = new Map<string, number>();
  for (const { event } of lateResent) lateIn.set(event.event_id, (lateIn.get(event.event_id) ?? 0) + 1);
  const groups = new Map<string, number>();
  for (const w of work)
    for (const { event } of w.events)
      if (lateIn.has(event.event_id)) groups.set(event.event_id, (groups.get(event.event_id) ?? 0) + 1);
  const local: Held[] = [];
  let late = 0;
  const seen = new Set<string>();
  for (const e of batch) {
    const id = e.event.event_id;
    const n = lateIn.get(id);
    if (n === undefined || seen.has(id)) continue;
    seen.add(id);
    if (n === groups.get(id)) local.push(e);
    else late += n;
  }
  return { local, late };
}
