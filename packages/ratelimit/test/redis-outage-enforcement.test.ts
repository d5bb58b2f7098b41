import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { useOutageRedis } from '../../../test/support/redis-outage.ts';
import { RateLimiter } from '../src/limiter.ts';
import { RedisStore } from '../src/redis-store.ts';

// A ban or block lives in Redis. Set by another process (the CLI, the detector's fleet
// enforcement, another replica's refusals), this replica knows of it only from Redis's
// refusals; failing open, it decided with its local fallback, which had never heard of it, so a
// banned client was admitted for as long as Redis was away (an outage it may provoke itself).

const outage = useOutageRedis();

async function connected(url: string): Promise<Redis> {
  const c = outage.client(url, { lazyConnect: true });
  await c.connect();
  return c;
}

function limiter(c: Redis): RateLimiter {
  return new RateLimiter({
    store: new RedisStore({ client: c }),
    tiers: { t: { requestsPerHour: 1_000 }, ip: { requestsPerHour: 10_000 } },
    defaultTier: 't',
    secondaryTier: 'ip',
    failurePolicy: 'open',
    // Redis killed, calls fail at once (no offline queue): the timeout is not what this test is
    // about. 2 s, not 250 ms: one call of a loaded host's Redis slower than that before the kill
    // would fail open for the whole retry interval, and this replica would see no ban at all.
    commandTimeoutMs: 2_000,
    retryIntervalMs: 60_000,
    // What this replica noted from Redis's refusals alone; the fleet's ban index, read on a
    // timer, is redis-outage-fleet-bans.test.ts's (a read between walt's ban and lift would
    // hold him until the next one).
    banSyncIntervalMs: 0,
    warmTokenizer: false,
  });
}

describe('fail open keeps the bans and blocks Redis refused with', () => {
  it('refuses a subject banned or blocked by another process while Redis is down; forgets a lifted one', async () => {
    const redis = await outage.start();
    const app = limiter(await connected(redis.url));
    const operator = limiter(await connected(redis.url));
    await operator.ban('mallory');
    await operator.ban('ip:203.0.113.7');
    await operator.recordViolation('eve', 25); // past blockedAt (20): blocked for blockMs
    await operator.ban('walt');

    // What this replica sees of them from Redis.
    const seen = {
      mallory: await app.acquire({ estimatedTokens: 1, subject: 'mallory' }),
      eve: await app.acquire({ estimatedTokens: 1, subject: 'eve' }),
      walt: await app.acquire({ estimatedTokens: 1, subject: 'walt' }),
      viaAddress: await app.acquire({
        estimatedTokens: 1,
        subject: 'trent',
        secondarySubject: 'ip:203.0.113.7',
      }),
    };
    expect(seen.mallory).toMatchObject({ allowed: false, reason: 'banned' });
    expect(seen.eve).toMatchObject({ allowed: false, reason: 'blocked' });
    expect(seen.walt).toMatchObject({ allowed: false, reason: 'banned' });
    expect(seen.viaAddress).toMatchObject({ allowed: false, reason: 'banned' });
    expect(seen.mallory.degraded).toBeUndefined();
    // walt's ban is lifted elsewhere; this replica sees him admitted by Redis.
    await operator.lift('walt');
    expect(await app.acquire({ estimatedTokens: 1, subject: 'walt' })).toMatchObject({ allowed: true });

    await redis.kill();
    const mallory = await app.acquire({ estimatedTokens: 1, subject: 'mallory' });
    const eve = await app.acquire({ estimatedTokens: 1, subject: 'eve' });
    const viaAddress = await app.acquire({
      estimatedTokens: 1,
      subject: 'peggy',
      secondarySubject: 'ip:203.0.113.7',
    });
    const walt = await app.acquire({ estimatedTokens: 1, subject: 'walt' });
    const alice = await app.acquire({ estimatedTokens: 1, subject: 'alice' });

    expect(mallory).toMatchObject({ allowed: false, reason: 'banned', level: 'banned', degraded: true });
    // The ban's end as Redis said it (a year), counted from when it was seen.
    expect(mallory.retryAfterMs).toBeGreaterThan(seen.mallory.retryAfterMs - 60_000);
    expect(mallory.retryAfterMs).toBeLessThanOrEqual(seen.mallory.retryAfterMs);
    expect(eve).toMatchObject({ allowed: false, reason: 'blocked', level: 'blocked', degraded: true });
    expect(eve.retryAfterMs).toBeGreaterThan(0);
    expect(eve.retryAfterMs).toBeLessThanOrEqual(seen.eve.retryAfterMs);
    expect(viaAddress).toMatchObject({ allowed: false, reason: 'banned', degraded: true });
    expect(walt).toMatchObject({ allowed: true, degraded: true });
    expect(alice).toMatchObject({ allowed: true, degraded: true });
  });

  it('lets a block go when it ends, while Redis is still down', async () => {
    const redis = await outage.start();
    let now = Date.now();
    const c = await connected(redis.url);
    const opts = {
      tiers: { t: { requestsPerHour: 1_000 } },
      failurePolicy: 'open' as const,
      commandTimeoutMs: 2_000, // as above
      retryIntervalMs: 600_000,
      warmTokenizer: false,
      enforcement: { blockMs: 2_000 },
    };
    const operator = new RateLimiter({ ...opts, store: new RedisStore({ client: c }) });
    await operator.recordViolation('eve', 25);
    const app = new RateLimiter({ ...opts, store: new RedisStore({ client: c }), clock: { now: () => now } });
    const seen = await app.acquire({ estimatedTokens: 1, subject: 'eve' });
    expect(seen).toMatchObject({ allowed: false, reason: 'blocked' });
    await redis.kill();
    expect(await app.acquire({ estimatedTokens: 1, subject: 'eve' })).toMatchObject({
      allowed: false,
      reason: 'blocked',
    });
    now += seen.retryAfterMs + 1;
    expect(await app.acquire({ estimatedTokens: 1, subject: 'eve' })).toMatchObject({
      allowed: true,
      degraded: true,
    });
  });
});
