/**
 * Who waits for the events queued so far to leave this process's shared-state queue (shipped
 * to Redis, handed to the fallback engine, or dropped by a full queue): SharedEngine.shipped().
 * Counts, not events: `queued` counts every event put in the queue, `left` every event out of
 * it; a waiter waits for `left` to reach what `queued` was when it asked. Waiters settle in the
 * order they came (their targets only grow), so settling is O(settled).
 */
export class ShipWaiters {
  private queued = 0;
  private left = 0;
  private waiters: { target: number; resolve: () => void }[] = [];
  private head = 0;

  /** One event put in the queue. */
  added(): void {
    this.queued++;
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
