import type { Timed } from './gen.ts';

/**
 * Fresh user-id strings for the engine benches, as real input brings them. TrafficGenerator
 * gives every event of a user the same string object (its array of ids), which the engine's
 * group tables find by identity, its hash already computed. Real input does not: the replay's
 * reader posts its batches to the engine's thread (a structured clone makes a new string per
 * value), the detector decodes OTLP, the SDK builds its events, and JSON.parse only
 * internalizes values of up to 10 characters (most real ids are longer). There each event's id
 * is a new string: its first Map lookup computes its hash and compares its text with the
 * table's key (another object, another cache line), where the same object is equal by identity.
 * Issue 13's fifteenth replay round measured that at about a quarter of the engine's CPU.
 *
 * Chunk by chunk, outside the timed part: `fresh` gives events [from, to) each a new flat copy
 * of its id just before the engine takes them (the copies are young, beside each other, as a
 * decoder's are); `restore` gives events back the generator's shared string once the engines
 * are done with them, so the copies die young as real input's do (the first copy of each user's
 * id lives on as the table's key, as on real input) instead of being promoted by the bench.
 */
export class FreshUserIds {
  /** Each event's user id as the generator made it (shared by every event of the user). */
  private readonly shared: string[];
  private readonly events: Timed[];

  constructor(events: Timed[]) {
    this.events = events;
    this.shared = events.map((e) => e.event.user_id);
  }

  /** Events [from, to) each get a new copy of their user id (a sequential one-byte string, not internalized). */
  fresh(from: number, to: number): void {
    const events = this.events;
    for (let i = from; i < to; i++) {
      // latin1 both ways: the generator's ids are ASCII, and decoding makes a new string.
      events[i]!.event.user_id = Buffer.from(this.shared[i]!, 'latin1').toString('latin1');
    }
  }

  /** Events [from, to) get back the generator's shared string. */
  restore(from: number, to: number): void {
    const events = this.events;
    for (let i = Math.max(0, from); i < to; i++) events[i]!.event.user_id = this.shared[i]!;
  }
}

/** Events per chunk of `ingestChunks` (and engine-ab.ts's rounds): each chunk's ids made fresh before it. */
export const FRESH_CHUNK = 20_000;

/**
 * Feeds all the events to the engine chunk by chunk, with `ids` (undefined: the generator's
 * shared strings) fresh per chunk, then flushes it when `flush`. Returns the main thread's CPU
 * nanoseconds of the ingesting (and flushing) only, not of making the ids.
 */
export function ingestChunks(
  engine: { ingest(event: Timed['event'], t: number): void; flush(): void },
  events: Timed[],
  ids: FreshUserIds | undefined,
  flush: boolean,
): number {
  let spent = 0;
  for (let from = 0; from < events.length; from += FRESH_CHUNK) {
    const to = Math.min(events.length, from + FRESH_CHUNK);
    ids?.restore(from - 2 * FRESH_CHUNK, from - FRESH_CHUNK);
    ids?.fresh(from, to);
    const start = process.threadCpuUsage();
    for (let i = from; i < to; i++) engine.ingest(events[i]!.event, events[i]!.t);
    if (flush && to === events.length) engine.flush();
    const u = process.threadCpuUsage(start);
    spent += (u.user + u.system) * 1000;
  }
  // The last chunks' copies: in an unflushed engine's reorder buffer the shared strings of the
  // same text (an engine that is not flushed holds events of at most one chunk's end).
  ids?.restore(events.length - 2 * FRESH_CHUNK, events.length);
  return spent;
}
