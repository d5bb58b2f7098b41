import { diag } from '@opentelemetry/api';
import type { Clock, RandomSource } from '@llmsec/core';
import { backoffDelay, type BackoffOptions } from './backoff.ts';
import { DeliveryError } from './http-post.ts';
import type { RecordNotifications } from './notification-counter.ts';
import { sinkErrors } from './sink-errors.ts';

export interface DeliveryQueueOptions<T> {
  /** For messages only: where this queue delivers (credentials removed). */
  target: string;
  /** Sends one batch (`keys[i]` is `batch[i]`'s key); rejects (ideally with DeliveryError) on failure. */
  deliver: (batch: T[], signal: AbortSignal, keys: string[]) => Promise<void>;
  maxQueue: number;
  maxBatch: number;
  timeoutMs: number;
  /** An item still undelivered this long after it was queued is given up (counted `failed`). */
  maxRetryMs: number;
  backoff: BackoffOptions;
  clock: Clock;
  random: RandomSource;
  record: RecordNotifications;
}

interface Entry<T> {
  item: T;
  seq: number;
  queuedAt: number;
  /** Tried once: a failed attempt gives it up (counted `failed`) instead of retrying it. */
  once: boolean;
}

interface Waiter {
  upTo: number;
  resolve: () => void;
}

/**
 * One delivery target's queue: keyed, bounded, retried. Queuing an item under a key that is
 * already waiting replaces it in place, so while the target is down the queue holds the
 * *latest* state of each key (an alert's resolve replaces its firing) and never grows with
 * re-sends. A new key on a full queue is dropped and counted. One batch is in flight at a time;
 * failures back off exponentially with full jitter, and success resets the backoff.
 */
export class DeliveryQueue<T> {
  private readonly options: DeliveryQueueOptions<T>;
  private readonly pending = new Map<string, Entry<T>>();
  private seq = 0;
  private attempt = 0;
  private inFlight = false;
  /** The batch being sent: shutdown leaves its accounting to the attempt's outcome. */
  private sending: ReadonlySet<Entry<T>> = new Set();
  /** After shutdown: nothing is scheduled any more, and a failing in-flight batch is given up. */
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private waiters: Waiter[] = [];
  private closed = false;
  private warnedFull = false;
  private failing = false;

  constructor(options: DeliveryQueueOptions<T>) {
    this.options = options;
  }

  get size(): number {
    return this.pending.size;
  }

  /** The item waiting under `key` (in flight included), if any. */
  peek(key: string): T | undefined {
    return this.pending.get(key)?.item;
  }

  /**
   * `once`: a failed attempt gives the item up instead of retrying it, for an item that is
   * harmful late (the Alertmanager sink's update of an incident another process fired: posted
   * after that process's resolve, it would show the alert active again).
   */
  enqueue(key: string, item: T, once = false): void {
    if (this.closed) return;
    const existing = this.pending.get(key);
    if (existing === undefined && this.pending.size >= this.options.maxQueue) {
      this.options.record('dropped', 1);
      if (!this.warnedFull) {
        this.warnedFull = true;
        diag.warn(
          `llmsec alert sink: queue for ${this.options.target} is full (${this.options.maxQueue}); dropping notifications`,
        );
      }
      return;
    }
    // Map.set on an existing key keeps its position: the oldest incidents stay first in line.
    this.pending.set(key, { item, seq: ++this.seq, queuedAt: this.options.clock.now(), once });
    this.schedule();
  }

  /**
   * Resolves once every item queued before the call was delivered or given up on, or after
   * `timeoutMs`, whichever is first. A pending backoff wait is cut short: flushing tries now.
   */
  async flush(timeoutMs: number): Promise<void> {
    const upTo = this.seq;
    if (!this.hasPendingUpTo(upTo)) return;
    let timeout: NodeJS.Timeout | undefined;
    const done = new Promise<void>((resolve) => {
      const waiter: Waiter = { upTo, resolve };
      this.waiters.push(waiter);
      timeout = setTimeout(() => {
        // Given up waiting: forget the waiter, so repeated flushes during an outage do not pile up.
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve();
      }, timeoutMs);
      timeout.unref();
    });
    // The waiter is registered first: run() may settle everything synchronously.
    if (this.timer !== undefined && !this.inFlight) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.run();
    }
    await done;
    clearTimeout(timeout);
  }

  /** Stops taking items, flushes for up to `timeoutMs`, then gives up on what is left. */
  async shutdown(timeoutMs: number): Promise<void> {
    this.closed = true;
    await this.flush(timeoutMs);
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    let abandoned = 0;
    for (const [key, entry] of this.pending) {
      if (this.sending.has(entry)) continue;
      this.pending.delete(key);
      abandoned++;
    }
    this.options.record('failed', abandoned);
    this.reportGivenUp(abandoned);
    this.settleWaiters();
  }

  /**
   * Notifications lost because the process is stopping: logged (once per episode) and counted
   * like those that expire, not only on llmsec.alert.notifications{outcome="failed"}, which an
   * exiting process is no longer scraped for. The detector's "shutdown timed out" warning
   * (sinks_pending) is written only when its own shutdown_timeout runs out first.
   */
  private reportGivenUp(count: number): void {
    if (count <= 0) return;
    sinkErrors.report(
      `delivery to ${this.options.target} (given up at shutdown)`,
      new Error(`${count} notification(s) undelivered`),
      'undelivered_at_shutdown',
    );
  }

  private hasPendingUpTo(upTo: number): boolean {
    for (const entry of this.pending.values()) if (entry.seq <= upTo) return true;
    return false;
  }

  private schedule(): void {
    if (this.stopped || this.inFlight || this.timer !== undefined || this.pending.size === 0) return;
    // Delay 0 on the happy path still waits for the current tick, so alerts raised together
    // travel in one batch.
    const delay =
      this.attempt === 0 ? 0 : backoffDelay(this.attempt, this.options.backoff, this.options.random);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.run();
    }, delay);
    this.timer.unref();
  }

  private run(): void {
    this.expire();
    if (this.pending.size === 0) {
      this.settleWaiters();
      return;
    }
    const batch: [string, Entry<T>][] = [];
    for (const pair of this.pending) {
      batch.push(pair);
      if (batch.length >= this.options.maxBatch) break;
    }
    this.inFlight = true;
    this.sending = new Set(batch.map(([, e]) => e));
    this.attemptBatch(batch).then(
      () => this.afterAttempt(),
      (err: unknown) => {
        // attemptBatch handles its own errors; this is the funnel of last resort.
        sinkErrors.report('delivery_loop', err);
        this.afterAttempt();
      },
    );
  }

  private afterAttempt(): void {
    this.inFlight = false;
    this.sending = new Set();
    this.settleWaiters();
    this.schedule();
  }

  private async attemptBatch(batch: [string, Entry<T>][]): Promise<void> {
    const { target, deliver, timeoutMs, record } = this.options;
    try {
      await deliver(
        batch.map(([, e]) => e.item),
        AbortSignal.timeout(timeoutMs),
        batch.map(([key]) => key),
      );
    } catch (err) {
      const retryable = !(err instanceof DeliveryError) || err.retryable;
      if (retryable && this.stopped) {
        const lost = this.removeDelivered(batch);
        record('failed', lost);
        this.reportGivenUp(lost);
        return;
      }
      if (retryable) {
        this.attempt++;
        record('failed', this.removeOnce(batch));
        if (!this.failing) {
          this.failing = true;
          diag.warn(
            `llmsec alert sink: delivery to ${target} failed, retrying with backoff: ${errorMessage(err)}`,
          );
        }
        return;
      }
      // The target answered and refused the batch: sending it again cannot help. Counted and
      // logged once per episode (a receiver that rejects everything rejects every batch).
      sinkErrors.report(
        `delivery to ${target} (notifications rejected)`,
        err,
        err instanceof DeliveryError ? err.type : undefined,
      );
      record('failed', this.removeDelivered(batch));
      this.attempt = 0;
      return;
    }
    if (this.failing) {
      this.failing = false;
      diag.info(`llmsec alert sink: delivery to ${target} recovered`);
    }
    this.attempt = 0;
    record('sent', batch.length);
    this.removeDelivered(batch);
  }

  /** Removes the batch's `once` entries a newer state did not replace; returns how many. */
  private removeOnce(batch: [string, Entry<T>][]): number {
    return this.removeDelivered(batch.filter(([, entry]) => entry.once));
  }

  /** Removes the batch's entries unless a newer state replaced them meanwhile; returns how many. */
  private removeDelivered(batch: [string, Entry<T>][]): number {
    let removed = 0;
    for (const [key, entry] of batch) {
      if (this.pending.get(key)?.seq === entry.seq) {
        this.pending.delete(key);
        removed++;
      }
    }
    return removed;
  }

  private expire(): void {
    const cutoff = this.options.clock.now() - this.options.maxRetryMs;
    let expired = 0;
    for (const [key, entry] of this.pending) {
      if (entry.queuedAt < cutoff) {
        this.pending.delete(key);
        expired++;
      }
    }
    if (expired > 0) {
      this.options.record('failed', expired);
      sinkErrors.report(
        `delivery to ${this.options.target} (gave up after ${this.options.maxRetryMs} ms)`,
        new Error(`${expired} notification(s) expired`),
        'expired',
      );
    }
  }

  private settleWaiters(): void {
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      if (this.hasPendingUpTo(w.upTo)) return true;
      w.resolve();
      return false;
    });
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
