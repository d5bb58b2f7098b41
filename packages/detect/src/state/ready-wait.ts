import type { Cluster, Redis } from 'ioredis';

/**
 * Statuses of an ioredis client on its way to `ready` by itself: a first connection under way,
 * connected but not yet ready (AUTH, SELECT, the ready check), or waiting out its retry delay
 * after a lost connection. Not `wait` (lazyConnect: ioredis connects on the first command), not
 * `close` / `end` (closed by its owner or out of retries: nothing to wait for).
 */
const COMING = new Set(['connecting', 'connect', 'reconnecting']);

/** A call waiting for the client; `done` is set by its owner once it has failed (timed out). */
export interface ReadyWaiter {
  readonly done: boolean;
}

interface Waiting {
  waiter: ReadyWaiter;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Waits for a client that is reconnecting to be `ready`. With `enableOfflineQueue: false` (the
 * recommended setting) ioredis refuses a command at once while its client is not ready, so after
 * a Redis restart a replica whose client was still on its retry timer failed its first round and
 * degraded, and its events stayed local for a probe interval: the fleet under-counted. The wait
 * is bounded by the caller (RedisDetectionState's command-timeout watchdog), so a Redis that
 * stays down degrades within the same `commandTimeoutMs` as a Redis that does not answer.
 * One pair of listeners per client while calls wait, however many.
 *
 * Waits whose caller gave up (`done`) are dropped as new ones come, not kept until the client is
 * ready: a Redis down for hours with a client retrying forever (ioredis's default) gets a probe
 * per probeIntervalMs, and a wait held until the end of the outage held its call and closures
 * (about 1 KB): tens of MB a day. Pruned when the list has doubled since the last prune, so a
 * wait costs O(1) amortized and the list holds at most twice the waits still live.
 */
export class ReadyWait {
  private readonly client: Redis | Cluster;
  private waiting: Waiting[] = [];
  private pruneAt = 64;

  constructor(client: Redis | Cluster) {
    this.client = client;
  }

  /** True when the client is not ready but is connecting or reconnecting by itself. */
  coming(): boolean {
    return COMING.has(this.client.status);
  }

  /**
   * Resolves at the client's next `ready`; rejects if it ends (no more retries) first. A waiter
   * that is `done` by then is not resumed (nor rejected: its owner has settled it already).
   */
  ready(waiter: ReadyWaiter): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.waiting.length === 0) {
        this.client.on('ready', this.onReady);
        this.client.on('end', this.onEnd);
      }
      this.waiting.push({ waiter, resolve, reject });
      if (this.waiting.length >= this.pruneAt) {
        this.waiting = this.waiting.filter((w) => !w.waiter.done);
        this.pruneAt = Math.max(64, 2 * this.waiting.length);
      }
    });
  }

  private readonly onReady = (): void => {
    for (const w of this.release()) if (!w.waiter.done) w.resolve();
  };

  private readonly onEnd = (): void => {
    const err = new Error('detection state: the Redis client closed while reconnecting');
    for (const w of this.release()) if (!w.waiter.done) w.reject(err);
  };

  private release(): Waiting[] {
    const all = this.waiting;
    this.waiting = [];
    this.pruneAt = 64;
    this.client.off('ready', this.onReady);
    this.client.off('end', this.onEnd);
    return all;
  }
}
