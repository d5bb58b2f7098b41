import { randomUUID } from 'node:crypto';
import type { SecurityEvent } from '@llmsec/core';
// Type only: ioredis is loaded when --state asks for it, not on every replay's start-up.
import type { connectRedis } from '@llmsec/ratelimit/redis';

type Redis = Awaited<ReturnType<typeof connectRedis>>;

/** Events given to the engine between two looks at the other shards' progress. */
const BLOCK_EVENTS = 2_000;

/** How often a held shard looks again (and says it is alive). */
const POLL_MS = 5;

/**
 * How often a live shard says so (publishes its frontier again) whatever it is doing: reading a
 * slow input, waiting for its engine. A shard whose value has not changed for `staleMs`
 * (--shard-timeout, ten of these by default) is taken for dead and holds nobody back.
 */
const HEARTBEAT_MS = 1_000;

/** What the pacer needs of DetectionEngine. */
interface PacedEngine {
  ingestOnce(event: SecurityEvent, t: number): boolean;
  shipped(): Promise<void>;
}

/** Progress field value of a shard that has shipped all its events. */
const DONE = 'done';

/**
 * Paces the shards of one sharded replay (--shards N on one --state ruleset) by event time,
 * through one small hash in Redis. Shards share one event-time clock there: a shard shipping
 * events far newer than another shard's still-unshipped ones made those late and their incidents
 * missed (packages/cli/README.md). Each shard publishes its frontier: the oldest event time of the
 * block it is about to ship and of those still queued in its engine. A block (its times span at
 * most `margin`, half the lateness) goes to the engine only when its newest time is within
 * `margin` of every other live shard's frontier, or when this shard's frontier is the oldest of
 * all and nothing of its own is queued (so the slowest shard always moves: no deadlock, whatever
 * the shards' sections hold). A shard that finished says so and holds nobody
 * back; one that stops publishing for `staleMs` (died; a live one says so every second), or never registered within
 * `registerMs` (never started), is passed over and `unpaced` says so.
 */
export class ShardPacer {
  private readonly field = randomUUID();
  private buf: { event: SecurityEvent; t: number }[] = [];
  /** Blocks given to the engine whose events may still be queued there (their oldest time). */
  private readonly inFlight: { min: number; shipped: boolean }[] = [];
  /** The frontier last published (kept while nothing is held: a lower bound of what follows). */
  private frontier = Number.NEGATIVE_INFINITY;
  private seq = 0;
  /** Each other shard's last value and when (this process's clock) it last changed. */
  private readonly seen = new Map<string, { value: string; at: number }>();
  private readonly registerDeadline: number;
  private readonly margin: number;
  private readonly lateness: number;
  /** Some shard was passed over as dead or never registered, or Redis failed: the answer may differ. */
  unpaced = false;
  /** Redis failed a pacing call: this shard goes on unpaced (the engine has its own fallback). */
  private broken = false;
  /** Taken for dead after this long without a change of its progress value (--shard-timeout). */
  private readonly staleMs: number;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  /** The heartbeat's publish in flight (finish() waits for it before saying done). */
  private beating: Promise<unknown> | undefined;
  /** Newest event time given to the engine so far. */
  private newest = Number.NEGATIVE_INFINITY;

  private readonly redis: Redis;
  private readonly key: string;
  private readonly shards: number;
  private readonly engine: PacedEngine;
  private readonly onRepeated: () => void;
  private readonly keyTtlMs: number;

  constructor(o: {
    redis: Redis;
    /** The run's progress hash (one hash tag: one Cluster slot). */
    key: string;
    shards: number;
    latenessMs: number;
    /** How long a shard that has not started yet holds the others back (the barrier timeout). */
    registerMs: number;
    /** How long a shard that has stopped saying it is alive holds the others back (--shard-timeout). */
    staleMs: number;
    engine: PacedEngine;
    /** An event ingestOnce dropped as an exact copy. */
    onRepeated: () => void;
    keyTtlMs: number;
  }) {
    this.redis = o.redis;
    this.key = o.key;
    this.shards = o.shards;
    this.engine = o.engine;
    this.onRepeated = o.onRepeated;
    this.keyTtlMs = o.keyTtlMs;
    this.margin = Math.floor(o.latenessMs / 2);
    this.lateness = o.latenessMs;
    this.registerDeadline = Date.now() + o.registerMs;
    this.staleMs = o.staleMs;
    // Alive while it runs, not only when it ships a block: a shard reading a slow stdin, or held
    // in its engine, is not taken for dead (a fixed 30 s once had to cover that).
    this.heartbeat = setInterval(() => {
      if (this.beating !== undefined || this.broken) return;
      this.beating = this.publish()
        .catch(() => undefined)
        .finally(() => (this.beating = undefined));
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Stops the heartbeat (finish() does; an error path that skips finish() should too). */
  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    await this.beating;
  }

  /** Holds a decoded event until drain() lets it through. */
  add(event: SecurityEvent, t: number): void {
    this.buf.push({ event, t });
  }

  /** Gives every held event to the engine, block by block, as the other shards allow. */
  async drain(): Promise<void> {
    const buf = this.buf;
    this.buf = [];
    for (let at = 0, end = 0; at < buf.length; at = end) {
      // A block starts at its head (the next event) and goes on while the other shards allow:
      // up to BLOCK_EVENTS events, each at most `limit` (what the gate allows now) and at least
      // the head less the margin. Cut at the gate's limit, not at a span of the margin fixed in
      // advance: in a log in time order at --allowed-lateness 0 that span was one millisecond,
      // so a block was an event or two, each with its own Redis round trip. The head is the
      // block's oldest as published, not the oldest of all still held: a straggler further on
      // (one that one replay drops as late too) would hold this shard's frontier down, let it
      // pass for the slowest and ship far ahead of the others (a log split in halves: 223 of a
      // shard's 885 events late). A straggler older than the head by more than the margin
      // starts a block of its own (the others may have gone up to the head plus the margin),
      // unless it is older than this shard's newest event less the lateness: one replay, which
      // has read that newer line before it, drops it as late too, so it need not cut the block
      // (in a log out of order by a few hundred ms at lateness 0, every line or two).
      const head = buf[at]!.t;
      const limit = Number.isFinite(head) ? await this.gate(head) : Number.POSITIVE_INFINITY;
      const floor = head - this.margin;
      let min = head;
      let newest = this.newest;
      // An event without a finite time (none reach here from the readers) goes alone, unpaced.
      const cap = Number.isFinite(head) ? Math.min(buf.length, at + BLOCK_EVENTS) : at + 1;
      for (end = at; end < cap; end++) {
        const t = buf[end]!.t;
        if (end > at && Number.isFinite(t)) {
          if (t > limit) break;
          if (t < floor && !(t < newest - this.lateness)) break;
          if (t < min) min = t;
        }
        if (t > newest) newest = t;
      }
      this.newest = newest;
      for (let i = at; i < end; i++) {
        const { event, t } = buf[i]!;
        if (!this.engine.ingestOnce(event, t)) this.onRepeated();
      }
      if (Number.isFinite(min)) {
        const entry = { min, shipped: false };
        this.inFlight.push(entry);
        void this.engine.shipped().then(() => (entry.shipped = true));
      }
    }
  }

  /**
   * Interrupted (SIGINT / SIGTERM): what is held ships without waiting for the other shards,
   * which may be gone or interrupted too; `unpaced` says so in the summary.
   */
  goUnpaced(): void {
    this.broken = true;
    this.unpaced = true;
  }

  /** End of this shard's input: everything held is shipped; it holds nobody back any more. */
  async finish(): Promise<void> {
    await this.drain();
    await this.engine.shipped();
    // No heartbeat may write its frontier over the done below.
    await this.stop();
    // Not said (Redis failing): the others pass this shard over once it is staleMs quiet.
    await this.redis
      .pipeline()
      .hset(this.key, this.field, DONE)
      .pexpire(this.key, this.keyTtlMs)
      .exec()
      .catch(() => (this.unpaced = true));
  }

  /**
   * Waits until the block headed by an event at `head` may go; resolves with the newest time
   * its events may have: the oldest frontier of the other live shards plus the margin, or the
   * head plus the margin for the slowest shard (Infinity when none holds this one back).
   */
  private async gate(head: number): Promise<number> {
    for (;;) {
      while (this.inFlight.length > 0 && this.inFlight[0]!.shipped) this.inFlight.shift();
      let frontier = head;
      for (const b of this.inFlight) if (!b.shipped && b.min < frontier) frontier = b.min;
      this.frontier = frontier;
      if (this.broken) return Number.POSITIVE_INFINITY;
      let others: number | undefined;
      try {
        others = await this.publish();
      } catch {
        this.broken = true;
        this.unpaced = true;
        return Number.POSITIVE_INFINITY;
      }
      if (others === undefined) return Number.POSITIVE_INFINITY;
      let limit = others + this.margin;
      // The slowest shard may always go (no deadlock) once nothing of its own is still queued
      // in its engine: until then its frontier is held down by its own unshipped events, and
      // going on its strength alone let it run seconds ahead of the others.
      const slowest = frontier <= others && this.inFlight.length === 0;
      if (slowest && head + this.margin > limit) limit = head + this.margin;
      if (head <= limit) return limit;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /**
   * Publishes this shard's frontier and reads the others': the oldest frontier of the live ones,
   * undefined when none holds this shard back. Until every shard registered (or the deadline),
   * a missing shard counts as holding everything back.
   */
  private async publish(): Promise<number | undefined> {
    this.seq++;
    const value = `${this.seq} ${Number.isFinite(this.frontier) ? this.frontier : -1e300}`;
    const res = await this.redis
      .pipeline()
      .hset(this.key, this.field, value)
      .pexpire(this.key, this.keyTtlMs)
      .hgetall(this.key)
      .exec();
    const all = (res?.[2]?.[1] ?? {}) as Record<string, string>;
    const now = Date.now();
    let registered = 1;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [field, v] of Object.entries(all)) {
      if (field === this.field) continue;
      registered++;
      const last = this.seen.get(field);
      if (last === undefined || last.value !== v) this.seen.set(field, { value: v, at: now });
      if (v === DONE) continue;
      if (now - (this.seen.get(field)?.at ?? now) > this.staleMs) {
        this.unpaced = true;
        continue;
      }
      const f = Number(v.slice(v.indexOf(' ') + 1));
      if (Number.isFinite(f) && f < oldest) oldest = f;
    }
    if (registered < this.shards) {
      if (now < this.registerDeadline) return Number.NEGATIVE_INFINITY;
      this.unpaced = true;
    }
    return Number.isFinite(oldest) ? oldest : undefined;
  }
}
