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
 * A shard whose progress has not changed for this long is taken for dead and holds nobody back
 * (a live shard re-publishes at every block and every poll while it waits).
 */
export const STALE_MS = 30_000;

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
 * back; one that stops publishing for STALE_MS (died), or never registered within
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
  /** Some shard was passed over as dead or never registered, or Redis failed: the answer may differ. */
  unpaced = false;
  /** Redis failed a pacing call: this shard goes on unpaced (the engine has its own fallback). */
  private broken = false;
  /** Time spent held back by slower shards, ms (for the measurement, not the summary). */
  heldMs = 0;

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
    this.registerDeadline = Date.now() + o.registerMs;
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
      // A block: consecutive events whose times span at most the margin, so that the block
      // meets the margin whenever its oldest time is the slowest frontier (gate). Its oldest, not
      // the oldest of all still held: a straggler further on (one that one replay drops as late
      // too) would hold this shard's frontier down, let it pass for the slowest and ship far
      // ahead of the others (a log split in halves: 223 of a shard's 885 events late).
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      const cap = Math.min(buf.length, at + BLOCK_EVENTS);
      for (end = at; end < cap; end++) {
        const t = buf[end]!.t;
        if (!Number.isFinite(t)) continue;
        const lo = t < min ? t : min;
        const hi = t > max ? t : max;
        if (end > at && hi - lo > this.margin) break;
        min = lo;
        max = hi;
      }
      if (Number.isFinite(max)) await this.gate(min, max);
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

  /** End of this shard's input: everything held is shipped; it holds nobody back any more. */
  async finish(): Promise<void> {
    await this.drain();
    await this.engine.shipped();
    // Not said (Redis failing): the others pass this shard over once it is STALE_MS quiet.
    await this.redis
      .pipeline()
      .hset(this.key, this.field, DONE)
      .pexpire(this.key, this.keyTtlMs)
      .exec()
      .catch(() => (this.unpaced = true));
  }

  /** Waits until a block of events from `held` (its oldest time) to `max` may go. */
  private async gate(held: number, max: number): Promise<void> {
    const start = Date.now();
    for (;;) {
      while (this.inFlight.length > 0 && this.inFlight[0]!.shipped) this.inFlight.shift();
      let frontier = held;
      for (const b of this.inFlight) if (!b.shipped && b.min < frontier) frontier = b.min;
      if (Number.isFinite(frontier)) this.frontier = frontier;
      if (this.broken) break;
      let others: number | undefined;
      try {
        others = await this.publish();
      } catch {
        this.broken = true;
        this.unpaced = true;
        break;
      }
      // The slowest shard may always go (no deadlock) once nothing of its own is still queued
      // in its engine: until then its frontier is held down by its own unshipped events, and
      // going on its strength alone let it run seconds ahead of the others.
      const slowest = this.frontier <= (others ?? Number.POSITIVE_INFINITY) && this.inFlight.length === 0;
      if (others === undefined || max <= others + this.margin || slowest) break;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    this.heldMs += Date.now() - start;
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
      if (now - (this.seen.get(field)?.at ?? now) > STALE_MS) {
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
