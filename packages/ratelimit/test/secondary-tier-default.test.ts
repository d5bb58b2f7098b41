/**
 * Without `secondaryTier`, the secondary subject (an address's shared budget, the HTTP
 * middleware's default `ip:<bucket>` on every request) is charged at each request's own tier.
 * Priced at `defaultTier` instead (d8d05cd), a `pro` user alone at their own address was held
 * to the `free` tier's limits by the address: every paying user of an app without
 * `secondaryTier` got the default tier's budget. The price of the per-request tier: users of
 * several tiers behind one address share its bucket unevenly (a bucket stores time: a `pro`
 * request takes 36 s of the hour, a `free` one 360 s), which `secondaryTier` sized for an
 * address avoids (README). On MemoryStore and a redis-server.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { RateLimiter } from '../src/limiter.ts';
import { MemoryStore } from '../src/memory-store.ts';
import { RedisStore } from '../src/redis-store.ts';
import type { LimiterStore } from '../src/store.ts';

let redis: RedisHandle;
let redisClient: Redis;

beforeAll(async () => {
  redis = await startRedis();
  redisClient = new Redis(redis.url, { maxRetriesPerRequest: 1 });
}, 60_000);

afterAll(async () => {
  redisClient?.disconnect();
  await redis?.stop();
});

const stores: Array<[string, () => LimiterStore]> = [
  ['MemoryStore', () => new MemoryStore()],
  ['RedisStore', () => new RedisStore({ client: redisClient })],
];

const ADDRESS = 'ip:203.0.113.7';

/** Per hour, so a slow run on a loaded machine decides the same (a unit drains in 6 min). */
function limiterOn(store: LimiterStore, secondaryTier?: string): RateLimiter {
  return new RateLimiter({
    store,
    tiers: { free: { requestsPerHour: 10 }, pro: { requestsPerHour: 100 } },
    defaultTier: 'free',
    ...(secondaryTier !== undefined ? { secondaryTier } : {}),
    enforcement: false,
    failurePolicy: 'closed',
    commandTimeoutMs: 5_000,
    warmTokenizer: false,
  });
}

/** `n` requests at `tier` behind ADDRESS, from `subject(i)`; the decisions, in order. */
async function requests(limiter: RateLimiter, subject: (i: number) => string, tier: string, n: number) {
  const out: Array<{ allowed: boolean; refusedSubject?: string }> = [];
  for (let i = 0; i < n; i++) {
    const r = await limiter.acquire({
      subject: subject(i),
      secondarySubject: ADDRESS,
      tier,
      estimatedTokens: 0,
    });
    out.push(r.allowed ? { allowed: true } : { allowed: false, refusedSubject: r.refusedBy?.subject });
  }
  return out;
}

describe.each(stores)('the address bucket without secondaryTier (%s)', (_name, makeStore) => {
  it('a user alone at an address keeps their own tier’s limits', async () => {
    await redisClient.flushall();
    const limiter = limiterOn(makeStore());
    // 20 of pro's 100 an hour. With the address at the default tier: 10 admitted, the rest
    // refused by the address (free: 10 an hour).
    const pro = await requests(limiter, () => 'alice', 'pro', 20);
    expect(pro.filter((d) => d.allowed)).toHaveLength(20);
  });

  it('free users behind one address share the free tier’s budget (unchanged)', async () => {
    await redisClient.flushall();
    const limiter = limiterOn(makeStore());
    const free = await requests(limiter, (i) => `free-${i}`, 'free', 11);
    expect(free.slice(0, 10).every((d) => d.allowed)).toBe(true);
    expect(free[10]).toEqual({ allowed: false, refusedSubject: ADDRESS });
  });

  it('a configured secondaryTier prices the address (unchanged)', async () => {
    await redisClient.flushall();
    const limiter = limiterOn(makeStore(), 'pro');
    const free = await requests(limiter, (i) => `free-${i}`, 'free', 30);
    expect(free.every((d) => d.allowed)).toBe(true);
    const shown = await limiter.status(ADDRESS, 'pro');
    expect(shown.dimensions.find((d) => d.dimension === 'rph')).toMatchObject({ limit: 100, remaining: 70 });
  });
});
