/**
 * Without `secondaryTier`, the secondary subject (an address's shared budget) is priced at
 * `defaultTier`, one price whoever's request it is. Before, it was priced at each request's own
 * tier: a GCRA bucket stores time, so a `pro` request (100 an hour) took 36 s of the address's
 * hour and a `free` one (10 an hour) 360 s. Ten `pro` users left room for `free` users; ten
 * `free` users shut every `pro` user out; the address's figures (`llmsec limits show
 * ip:<bucket>`, priced at the default tier) matched neither. On MemoryStore and a redis-server.
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

/** One request each from `users` at `tier` behind ADDRESS; the decisions, in order. */
async function requests(limiter: RateLimiter, prefix: string, tier: string, n: number) {
  const out: Array<{ allowed: boolean; refusedSubject?: string }> = [];
  for (let u = 0; u < n; u++) {
    const r = await limiter.acquire({
      subject: `${prefix}-${u}`,
      secondarySubject: ADDRESS,
      tier,
      estimatedTokens: 0,
    });
    out.push(r.allowed ? { allowed: true } : { allowed: false, refusedSubject: r.refusedBy?.subject });
  }
  return out;
}

describe.each(stores)('the address bucket without secondaryTier (%s)', (_name, makeStore) => {
  beforeAll(async () => {
    await redisClient.flushall();
  });

  it('charges every request at the default tier, whatever the user’s tier', async () => {
    await redisClient.flushall();
    const limiter = limiterOn(makeStore());
    // Ten pro users fill the address's budget (free: 10 an hour), as ten free users would.
    const pro = await requests(limiter, 'pro-user', 'pro', 10);
    expect(pro.every((d) => d.allowed)).toBe(true);
    // Before: admitted (the ten pro requests had taken 6 minutes of the hour).
    const free = await requests(limiter, 'free-user', 'free', 1);
    expect(free).toEqual([{ allowed: false, refusedSubject: ADDRESS }]);
    const morePro = await requests(limiter, 'pro-late', 'pro', 1);
    expect(morePro).toEqual([{ allowed: false, refusedSubject: ADDRESS }]);
    // What `llmsec limits show` reports for the address (the default tier's figures) is what
    // the requests were charged.
    const shown = await limiter.status(ADDRESS);
    expect(shown.dimensions.find((d) => d.dimension === 'rph')).toMatchObject({ limit: 10, remaining: 0 });
  });

  it('the order of the users’ tiers does not change the address’s decisions', async () => {
    await redisClient.flushall();
    const a = limiterOn(makeStore());
    const freeFirst = [...(await requests(a, 'f', 'free', 5)), ...(await requests(a, 'p', 'pro', 10))];
    await redisClient.flushall();
    const b = limiterOn(makeStore());
    const proFirst = [...(await requests(b, 'p', 'pro', 10)), ...(await requests(b, 'f', 'free', 5))];
    // 10 admitted and 5 refused by the address either way (before: 15 admitted pro-first).
    expect(freeFirst.filter((d) => d.allowed)).toHaveLength(10);
    expect(proFirst.filter((d) => d.allowed)).toHaveLength(10);
  });

  it('a configured secondaryTier still prices the address (unchanged)', async () => {
    await redisClient.flushall();
    const limiter = limiterOn(makeStore(), 'pro');
    const free = await requests(limiter, 'free-user', 'free', 30);
    expect(free.every((d) => d.allowed)).toBe(true);
    const shown = await limiter.status(ADDRESS, 'pro');
    expect(shown.dimensions.find((d) => d.dimension === 'rph')).toMatchObject({ limit: 100, remaining: 70 });
  });
});
