import type { Cluster, Redis } from 'ioredis';

/**
 * Statuses of an ioredis client on its way to `ready` by itself: a first connection under way,
 * connected but not yet ready (AUTH, SELECT, the ready check), or waiting out its retry delay
 * after a lost connection. Not `wait` (lazyConnect: ioredis connects on the first command), not
 * `close` / `end` (closed by its owner or out of retries: nothing to wait for).
 */
const COMING = new Set(['connecting', 'connect', 'reconnecting']);

/**
 * Waits for a client that is reconnecting to be `ready`. With `enableOfflineQueue: false` (the
 * recommended setting) ioredis refuses a command at once while its client is not ready, so after
 * a Redis restart a replica whose client was still on its retry timer failed its first round and
 * degraded, and its events stayed local for a probe interval: the fleet under-counted. The wait
 * is bounded by the caller (RedisDetectionState's command-timeout watchdog), so a Redis that
 * stays down degrades within the same `commandTimeoutMs` as a Redis that does not answer.
 * One pair of listeners per client, however many calls wait.
 */
export class ReadyWait {
  private readonly client: Redis | Cluster;
  private waiting: Promise<void> | undefined;

  constructor(client: Redis | Cluster) {
    this.client = client;
  }

  /** True when the client is not ready but is connecting or reconnecting by itself. */
  coming(): boolean {
    return COMING.has(this.client.status);
  }

  /** Resolves at the client's next `ready`; rejects if it ends (no more retries) first. */
  ready(): Promise<void> {
    this.waiting ??= new Promise<void>((resolve, reject) => {
      const done = (): void => {
        this.client.off('ready', onReady);
        this.client.off('end', onEnd);
        this.waiting = undefined;
      };
      const onReady = (): void => {
        done();
        resolve();
      };
      const onEnd = (): void => {
        done();
        reject(new Error('detection state: the Redis client closed while reconnecting'));
      };
      this.client.on('ready', onReady);
      this.client.on('end', onEnd);
    });
    return this.waiting;
  }
}
