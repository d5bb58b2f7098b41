import { describe, expect, it } from 'vitest';
import { subjectTag } from '../src/keys.ts';
import { RateLimiter } from '../src/limiter.ts';
import { BAN_INDEX_KEY, BanIndex } from '../src/redis-ban-index.ts';
import { RedisStore } from '../src/redis-store.ts';
import { until } from '../../../test/support/until.ts';
import { redisForTests } from './cli-run.ts';

// The fleet's ban index (llmsec:bans): what writes it, what it keeps, and its bound.
const redis = redisForTests();

describe("the fleet's ban index", () => {
  it('keeps at most its cap, the bans ending last; drops ended ones; its TTL is the last end', async () => {
    const c = redis.client;
    await c.del(BAN_INDEX_KEY);
    const index = new BanIndex(c, 3);
    await index.add('a', 400_000);
    await index.add('ended', 1);
    // 'ended' is over once Redis's clock passes it: a read skips it, the next writer drops it.
    await until(async () => !(await index.read()).ends.has('ended'), 5_000);
    expect(await c.zscore(BAN_INDEX_KEY, 'ended')).not.toBeNull();
    await index.add('b', 100_000);
    expect(await c.zscore(BAN_INDEX_KEY, 'ended')).toBeNull();
    await index.add('c', 300_000);
    await index.add('d', 200_000);
    expect((await c.zrange(BAN_INDEX_KEY, 0, -1)).sort()).toEqual(['a', 'c', 'd']);
    const pttl = await c.pttl(BAN_INDEX_KEY);
    expect(pttl).toBeGreaterThan(390_000);
    expect(pttl).toBeLessThanOrEqual(400_000);
    const read = await index.read();
    expect([...read.ends.keys()]).toEqual(['a', 'c', 'd']); // ending last first
    expect(read.ends.get('a')! - read.nowMs).toBeGreaterThan(390_000);
    // A member written by hand (another writer) past the cap is not read past it.
    await c.zadd(BAN_INDEX_KEY, Date.now() + 500_000, 'e');
    expect([...(await index.read()).ends.keys()]).toEqual(['e', 'a', 'c']);
    await index.remove('a');
    expect((await index.read()).ends.has('a')).toBe(false);
  });

  it('a ban, a banning violation and a banning refusal are written; a lift and a reset take the subject out; a long subject by its digest', async () => {
    const c = redis.client;
    await c.del(BAN_INDEX_KEY);
    const lim = new RateLimiter({
      store: new RedisStore({ client: c }),
      tiers: { t: { requestsPerMinute: 1 } },
      failurePolicy: 'closed',
      commandTimeoutMs: 5_000,
      warmTokenizer: false,
      // Refusals alone ban here: the second refusal crosses bannedAt.
      enforcement: { warningAt: 0.5, throttledAt: 0.5, blockedAt: 1.5, bannedAt: 1.5, refusalWeight: 1 },
    });
    const long = 'x'.repeat(300);
    await lim.ban(long);
    await lim.ban('walt');
    expect(await lim.recordViolation('eve', 5)).toBe('banned');
    expect(await lim.recordViolation('ivan', 1)).toBe('throttled'); // not banned: not written
    for (let i = 0; i < 3; i++) await lim.acquire({ subject: 'sybil', estimatedTokens: 0 });
    expect((await lim.status('sybil')).banned).toBe(true);
    const want = [subjectTag(long), 'walt', 'eve', 'sybil'].sort();
    await expect.poll(async () => (await c.zrange(BAN_INDEX_KEY, 0, -1)).sort()).toEqual(want);
    await lim.lift('walt');
    await lim.reset('eve');
    expect((await c.zrange(BAN_INDEX_KEY, 0, -1)).sort()).toEqual([subjectTag(long), 'sybil'].sort());
  });
});
