/** The most the probe asks room for: a round's refused writes past it are asked this much. */
export const MAX_PROBE_ROOM = 1024 * 1024;

/**
 * The least it asks for once any call was refused for memory: a round refused at its first call
 * (the clock, an index update: on a Cluster, whichever master is full) noted no write, and a
 * short write passed as soon as memory dipped under the limit, the round then refused again.
 * A sixteenth of the most: ~120 group writes of ~550 bytes.
 */
export const MIN_PROBE_ROOM = MAX_PROBE_ROOM / 16;

/**
 * What Redis holds per key beyond its value: the key's name is added by note(); this covers
 * the key and value objects, their dictionary entries and the expiry entry (a 346-byte group
 * body took 545 bytes of `used_memory` under a 32-character key, measured on Redis 7.0).
 */
const PER_KEY_BYTES = 128;

/** Whether `err` is Redis refusing a write for memory (`OOM command not allowed ...`, a script's too). */
export function isOutOfMemory(err: unknown): boolean {
  return err instanceof Error && /\bOOM\b/.test(err.message);
}

/**
 * How much room the degraded probe asks of Redis before it calls Redis back. A Redis at its
 * `maxmemory` under `noeviction` refuses a write when the memory in use is over the limit
 * before it, whatever the write's size. Hovering there (other keys expiring, client buffers
 * shrinking), it took the probe's short write, the engine went back to shared mode, and its
 * first round (the held batch again, 2,000 groups of ~550 bytes) filled what was left and was
 * refused: an episode, a warning and a hand-back per probe interval for as long as it hovered.
 *
 * So the bytes of the writes Redis refused for memory are noted (up to MAX_PROBE_ROOM; at least
 * MIN_PROBE_ROOM once any call was refused for memory), and the probe asks for that much room
 * before its own short write: read from `INFO memory` where Redis answers it (probe-memory.ts),
 * else by first writing that much in a short-lived key (RedisDetectionState.roomFor). A real recovery (memory freed, the limit
 * raised) passes at the next probe; a Redis short of room for the round stays one episode. A
 * refusal for another reason (READONLY, a timeout, a lost connection) asks no room.
 */
export class ProbeRoom {
  private bytes = 0;
  private floor = 0;

  /** Room the next probe asks for (0: a short write is enough). */
  get room(): number {
    return Math.max(this.bytes, this.floor);
  }

  /** A call was refused for memory, whatever it wrote: at least MIN_PROBE_ROOM is asked. */
  refused(): void {
    this.floor = MIN_PROBE_ROOM;
  }

  /** A write of `key` with `value` was refused for memory. */
  note(key: string, value: string): void {
    this.bytes = Math.min(MAX_PROBE_ROOM, this.bytes + key.length + value.length + PER_KEY_BYTES);
  }

  /** A probe found that room: the engine goes back to shared mode, nothing is asked any more. */
  passed(): void {
    this.bytes = 0;
    this.floor = 0;
  }
}
