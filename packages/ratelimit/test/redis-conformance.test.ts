import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { leaseKey, rlKey } from '../src/keys.ts';
import { RateLimiter } from '../src/limiter.ts';
import { RedisStore } from '../src/redis-store.ts';
import { storeConformance } from './conformance.ts';

let redis: RedisHandle;
let client: Redis;
let store: RedisStore;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  store = new RedisStore({ client });
});

afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

storeConformance('redis', () => store);

describe('RedisStore on a real redis-server', () => {
  const tiers = {
    all: {
      requestsPerMinute: 1_000_000,
      requestsPerHour: 1_000_000,
      requestsPerDay: 1_000_000,
      tokensPerMinute: 1_000_000_000,
      tokensPerHour: 1_000_000_000,
      tokensPerDay: 1_000_000_000,
      costPerHourMicroUsd: 1_000_000_000,
      costPerDayMicroUsd: 1_000_000_000,
      concurrent: 100,
    },
  };

  it('keeps constant memory per subject, every key under the subject hash tag and with a TTL', async () => {
    const lim = new RateLimiter({ store, tiers, failurePolicy: 'closed', commandTimeoutMs: 5_000 });
    const subject = `mem-${Date.now()}`;
    const sizes: number[] = [];
    for (let i = 1; i <= 1_000; i++) {
      const r = await lim.acquire({
        subject,
        secondarySubject: `ip:${subject}`,
        estimatedTokens: 500,
        estimatedCostMicroUsd: 1_200,
      });
      expect(r.allowed).toBe(true);
      await lim.settle(r.lease!, { tokens: 420, costMicroUsd: 1_000 });
      if (i === 10 || i === 1_000) sizes.push(Number(await client.memory('USAGE', rlKey(subject))));
    }
    const keys = (await client.keys(`llmsec:{*${subject}}:*`)).sort();
    expect(keys).toEqual([rlKey(`ip:${subject}`), rlKey(subject)].sort());
    for (const k of keys) {
      const ttl = await client.pttl(k);
      expect(ttl).toBeGreaterThan(0);
      // Buckets drain within a day: the TTL is the time until the state equals a fresh one.
      expect(ttl).toBeLessThanOrEqual(86_400_000);
    }
    expect(sizes[1]).toBe(sizes[0]);
    expect(sizes[1]).toBeLessThanOrEqual(512);
    // Leases were all released: the lease sorted set is gone, not accumulating.
    expect(await client.exists(leaseKey(subject))).toBe(0);
  });

  it('holds leases in a sorted set bounded by the concurrency limit, with a TTL', async () => {
    const lim = new RateLimiter({
      store,
      tiers: { c: { concurrent: 3 } },
      leaseTtlMs: 60_000,
      commandTimeoutMs: 5_000,
    });
    const subject = `leases-${Date.now()}`;
    await Promise.all(Array.from({ length: 20 }, () => lim.acquire({ subject, estimatedTokens: 0 })));
    expect(await client.zcard(leaseKey(subject))).toBe(3);
    const ttl = await client.pttl(leaseKey(subject));
    expect(ttl).toBeGreaterThan(50_000);
    // The key outlives its newest lease by at most a quarter of the lease TTL (the horizon
    // that lets later acquires skip PEXPIRE, redis-lua-lease.ts).
    expect(ttl).toBeLessThanOrEqual(75_000);
  });

  it('reloads its script after SCRIPT FLUSH (EVALSHA, then EVAL on NOSCRIPT)', async () => {
    const lim = new RateLimiter({
      store,
      tiers: { t: { requestsPerHour: 2 } },
      failurePolicy: 'closed',
      commandTimeoutMs: 5_000,
    });
    const subject = `noscript-${Date.now()}`;
    expect((await lim.acquire({ subject, estimatedTokens: 0 })).allowed).toBe(true);
    await client.script('FLUSH');
    const r = await lim.acquire({ subject, estimatedTokens: 0 });
    expect(r).toMatchObject({ allowed: true, dimensions: [{ current: 2 }] });
    expect(r.degraded).toBeUndefined();
  });

  it('uses the Redis clock: a limiter whose own clock is a year off decides the same', async () => {
    const skewed = { now: () => Date.now() + 365 * 86_400_000 };
    const a = new RateLimiter({
      store,
      tiers: { t: { requestsPerMinute: 3 } },
      clock: skewed,
      commandTimeoutMs: 5_000,
    });
    const b = new RateLimiter({ store, tiers: { t: { requestsPerMinute: 3 } }, commandTimeoutMs: 5_000 });
    const subject = `clock-${Date.now()}`;
    const rs = [];
    for (let i = 0; i < 4; i++) rs.push(await (i % 2 ? a : b).acquire({ subject, estimatedTokens: 0 }));
    expect(rs.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(Math.abs(rs[0]!.lease!.expiresAtMs - (Date.now() + 120_000))).toBeLessThan(10_000);
  });
});
