/**
 * Keeps the fleet's ban index (redis-ban-index.ts) and this limiter's copy of it: writes a ban
 * this limiter set or saw set, removes a lifted or reset subject, and every
 * `banSyncIntervalMs` reads the fleet's bans into SeenEnforcement, so that failing open while
 * Redis is away refuses a client banned by any process, not only the ones this replica met.
 *
 * Its I/O runs untraced (attempt) and bounded by the operator timeout. Nothing here rejects or
 * throws into the host: a failed write or read is counted on llmsec.telemetry.errors
 * {component="ratelimit"} and logged once per episode. A failed read keeps what was last read
 * (during an outage that copy is the point); its ends still apply. Blocks are not indexed:
 * see the README (When Redis fails).
 */
import type { ResolvedOptions } from './options.ts';
import { attempt } from './failure-policy.ts';
import type { BanIndex } from './redis-ban-index.ts';
import type { SeenEnforcement } from './seen-enforcement.ts';
import type { LimiterTelemetry } from './telemetry.ts';
import { withTimeout } from './timeout.ts';

export class FleetBans {
  private readonly index: BanIndex;
  private readonly seen: SeenEnforcement;
  private readonly o: ResolvedOptions;
  private readonly telemetry: LimiterTelemetry;
  private readonly storeDown: () => boolean;
  private reading = false;

  constructor(
    index: BanIndex,
    seen: SeenEnforcement,
    o: ResolvedOptions,
    telemetry: LimiterTelemetry,
    storeDown: () => boolean,
  ) {
    this.index = index;
    this.seen = seen;
    this.o = o;
    this.telemetry = telemetry;
    this.storeDown = storeDown;
  }

  /**
   * Reads the index every `intervalMs` (unref'd timer). The timer holds this object weakly:
   * a limiter dropped by its owner is collected and its timer stops, with no close() to call.
   */
  start(intervalMs: number): void {
    const self = new WeakRef(this);
    const timer = setInterval(() => {
      const fleet = self.deref();
      if (fleet === undefined) clearInterval(timer);
      else void fleet.read();
    }, intervalMs);
    timer.unref();
  }

  /** Indexes a ban of `subject` for the limiter's ban length. Never rejects. */
  added(subject: string): Promise<void> {
    return this.bounded(() => this.index.add(subject, this.o.enforcement.banTtlMs)).catch((err: unknown) =>
      this.telemetry.error('ban_index', err),
    );
  }

  /** Takes `subject` out of the index; rejects when that fails (the caller's lift then fails). */
  removed(subject: string): Promise<void> {
    return this.bounded(() => this.index.remove(subject));
  }

  /** One read of the index into SeenEnforcement. Never rejects. */
  async read(): Promise<void> {
    // While the store is known down, the copy already held is kept without a failing call.
    if (this.reading || this.storeDown()) return;
    this.reading = true;
    try {
      const r = await this.bounded(() => this.index.read());
      // Ends on Redis's clock, held on ours: skew between hosts does not shorten a ban.
      const offset = this.o.clock.now() - r.nowMs;
      const ends = new Map<string, number>();
      for (const [tag, end] of r.ends) ends.set(tag, end + offset);
      this.seen.holdFleet(ends);
    } catch (err) {
      this.telemetry.error('ban_sync', err);
    } finally {
      this.reading = false;
    }
  }

  private bounded<T>(fn: () => Promise<T>): Promise<T> {
    return withTimeout(attempt(fn), this.o.commandTimeoutMs * 10);
  }
}
