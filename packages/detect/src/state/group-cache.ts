import type { GroupBody } from './group-runner.ts';

interface CacheEntry {
  v: number;
  body: GroupBody;
  bytes: number;
}

/**
 * Decoded state of the groups this process wrote last, by version: when nobody else wrote a
 * group since, the next batch steps it without a read or a decode, in one round trip. Bounded
 * by the size of their encoded text (RedisDetectionState.cacheBytes); the oldest write goes
 * first. A cached state is only a guess: the compare-and-set checks its version.
 */
export class GroupCache {
  private readonly maxBytes: number;
  private readonly cache = new Map<string, CacheEntry>();
  private bytes = 0;
  /**
   * The entries in write order, oldest first, for eviction (stale ones skipped). Not
   * `cache.keys().next()`: a Map whose front entries were deleted keeps them as holes until it
   * rehashes, and every keys() walk skips them again (it was a fifth of the 100k-group profile).
   */
  private order: [string, CacheEntry][] = [];
  private orderHead = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /**
   * The cached state of `key`, removed from the cache: the caller steps it in place, so it is
   * no longer what Redis holds until the caller's write succeeds and remembers it again.
   */
  take(key: string): { v: number; body: GroupBody } | undefined {
    const entry = this.cache.get(key);
    if (entry !== undefined) this.forget(key);
    return entry;
  }

  /** The state this process just wrote (`bytes`: its encoded size; the decoded objects take a few times that). */
  remember(key: string, v: number, body: GroupBody, bytes: number): void {
    this.forget(key);
    const order = this.order;
    while (this.bytes + bytes > this.maxBytes && this.orderHead < order.length) {
      const [oldKey, oldEntry] = order[this.orderHead]!;
      order[this.orderHead++] = undefined as unknown as [string, CacheEntry];
      if (this.cache.get(oldKey) === oldEntry) this.forget(oldKey);
    }
    const entry: CacheEntry = { v, body, bytes };
    this.cache.set(key, entry);
    this.bytes += bytes;
    order.push([key, entry]);
    // Stale entries (forgotten or rewritten groups) are dropped once they are most of the list:
    // amortized O(1) per write, the list at most twice the cache plus a constant.
    if (order.length - this.orderHead > 2 * this.cache.size + 1024) {
      this.order = order.slice(this.orderHead).filter(([k, e]) => this.cache.get(k) === e);
      this.orderHead = 0;
    } else if (this.orderHead > 4096 && this.orderHead * 2 > order.length) {
      this.order = order.slice(this.orderHead);
      this.orderHead = 0;
    }
  }

  /** Everything forgotten (Redis failed: what it holds may change before this process is back). */
  clear(): void {
    this.cache.clear();
    this.bytes = 0;
    this.order = [];
    this.orderHead = 0;
  }

  private forget(key: string): void {
    const entry = this.cache.get(key);
    if (entry === undefined) return;
    this.cache.delete(key);
    this.bytes -= entry.bytes;
  }
}
