/**
 * Who waits for the events queued so far to leave this process's shared-state queue (shipped
 * to Redis, handed to the fallback engine, or dropped by a full queue): SharedEngine.shipped().
 * Counts, not events: `queued` counts every event put in the queue, `left` every event out of
 * it; a waiter waits for `left` to reach what `queued` was when it asked. Waiters settle in the
 * order they came (their targets only grow), so settling is O(settled).
 * Counting holds only if events leave in the order they came. A full queue drops its oldest
 * queued event while a round may still be shipping the batch taken before it: that drop is of
 * an event queued after the batch, so it counts only once the round's events are out (taken,
 * dropped, roundDone), or a caller waiting for the batch would be answered before it is in Redis.
 */
export class ShipWaiters {
  private queued = 0;
  private left = 0;
  private waiters: { target: number; resolve: () => void }[] = [];
  private head = 0;
  /** Events taken by the round in flight, and drops held back until they are out. */
  private inFlight = 0;
  private held = 0;

  /** One event put in the queue. */
  added(): void {
    this.queued++;
  }

  /** `n` events taken from the queue by a round (out once it ends: roundDone). */
  taken(n: number): void {
    this.inFlight += n;
  }

  /** The oldest queued event dropped (queue full): out, after the round in flight's events. */
  dropped(): void {
    if (this.inFlight > 0) this.held++;
    else this.removed(1);
  }

  /** The round's events are out (shipped, or handed to the fallback), and the drops held for them. */
  roundDone(): void {
    const n = this.inFlight + this.held;
    this.inFlight = 0;
    this.held = 0;
    this.removed(n);
  }

  /** `n` events out of the queue (shipped, handed to the fallback, dropped). */
  removed(n: number): void {
    this.left += n;
    this.settle();
  }

  /** Resolves once every event queued before the call has left the queue. */
  wait(): Promise<void> {
    if (this.left >= this.queued) return Promise.resolve();
    const target = this.queued;
    return new Promise((resolve) => this.waiters.push({ target, resolve }));
  }

  /** Everything settles (the engine stopped: nothing queued will be shipped by it). */
  releaseAll(): void {
    this.inFlight = 0;
    this.held = 0;
    this.left = this.queued;
    this.settle();
  }

  private settle(): void {
    const list = this.waiters;
    while (this.head < list.length && list[this.head]!.target <= this.left) {
      list[this.head++]!.resolve();
    }
    if (this.head === list.length) {
      this.waiters = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > list.length) {
      this.waiters = list.slice(this.head);
      this.head = 0;
    }
  }
}
