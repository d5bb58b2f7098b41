import type { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';

/**
 * The fair peer: rate-limiter-flexible configured for the dimensions llmsec checks. It has one
 * limit per limiter, so: requests per minute / hour / day (consume 1), tokens per minute /
 * hour / day (consume the estimate), cost per hour / day (consume the estimate), and for
 * concurrency a limiter with no window (consume 1 at acquire, reward 1 at settle; it cannot
 * reclaim a crashed holder's slot, llmsec's leases can). All consumes of one request go out
 * together (Promise.all, one client, so they share round trips): the fastest way to use it,
 * and weaker than ours (not atomic: a refusal by one limit leaves the others charged).
 * Settle rewards or penalises the token and cost limiters by the difference to actual usage.
 */
export class FlexiblePeer {
  private readonly requests: RateLimiterRedis[];
  private readonly tokens: RateLimiterRedis[];
  private readonly cost: RateLimiterRedis[];
  private readonly concurrent: RateLimiterRedis;

  constructor(storeClient: Redis, points: number) {
    const make = (keyPrefix: string, duration: number): RateLimiterRedis =>
      new RateLimiterRedis({ storeClient, points, duration, keyPrefix });
    this.requests = [make('rq-m', 60), make('rq-h', 3_600), make('rq-d', 86_400)];
    this.tokens = [make('tk-m', 60), make('tk-h', 3_600), make('tk-d', 86_400)];
    this.cost = [make('co-h', 3_600), make('co-d', 86_400)];
    this.concurrent = make('cc', 0);
  }

  async acquire(key: string, tokens: number, cost: number, concurrency: boolean): Promise<void> {
    const calls: Promise<unknown>[] = [];
    for (const l of this.requests) calls.push(l.consume(key, 1));
    for (const l of this.tokens) calls.push(l.consume(key, tokens));
    for (const l of this.cost) calls.push(l.consume(key, cost));
    if (concurrency) calls.push(this.concurrent.consume(key, 1));
    await Promise.all(calls);
  }

  async settle(key: string, tokenDelta: number, costDelta: number): Promise<void> {
    const calls: Promise<unknown>[] = [];
    const adjust = (l: RateLimiterRedis, d: number): Promise<unknown> =>
      d < 0 ? l.reward(key, -d) : l.penalty(key, d);
    for (const l of this.tokens) calls.push(adjust(l, tokenDelta));
    for (const l of this.cost) calls.push(adjust(l, costDelta));
    calls.push(this.concurrent.reward(key, 1));
    await Promise.all(calls);
  }
}
