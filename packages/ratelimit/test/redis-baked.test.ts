import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { RateLimiter } from '../src/limiter.ts';
import { RedisStore } from '../src/redis-store.ts';
import type { TierLimits } from '../src/types.ts';

const db = useRedis();

async function cachedScripts(): Promise<number> {
  const info = await db.redis.info('memory');
  return Number(/number_of_cached_scripts:(\d+)/.exec(info)?.[1] ?? NaN);
}

describe('RedisStore scripts with baked parameters', () => {
  it('one script per tier combination up to the bound, the packed-parameter scripts past it; both decide alike', async () => {
    const TIERS = 70; // past the bound of 64 baked scripts
    const tiers: Record<string, TierLimits> = {};
    for (let i = 0; i < TIERS; i++)
      tiers[`t${i}`] = { requestsPerHour: 2 + (i % 3), tokensPerHour: 1_000, concurrent: 5 };
    const lim = new RateLimiter({
      store: new RedisStore({ client: db.redis }),
      tiers,
      defaultTier: 't0',
      commandTimeoutMs: 2_000,
    });
    for (let i = 0; i < TIERS; i++) {
      const subject = `s${i}`;
      const tier = `t${i}`;
      const admitted: boolean[] = [];
      for (let k = 0; k < 5; k++) {
        const r = await lim.acquire({ subject, tier, estimatedTokens: 10 });
        admitted.push(r.allowed);
        if (r.lease) await lim.settle(r.lease, { tokens: 30 });
      }
      const limit = 2 + (i % 3);
      expect(admitted.filter(Boolean), tier).toHaveLength(limit);
      const status = await lim.status(subject, tier);
      expect(status.dimensions.find((d) => d.dimension === 'tph')!.current, tier).toBe(30 * limit);
      expect(status.activeLeases, tier).toBe(0);
    }
    // 64 baked scripts (acquire and settle combined), the two packed ones, and the snapshot script.
    expect(await cachedScripts()).toBeLessThanOrEqual(64 + 6);
  });

  it('two stores sharing one client keep their own scripts (named by content)', async () => {
    const one = new RateLimiter({
      store: new RedisStore({ client: db.redis }),
      tiers: { t: { requestsPerHour: 1 } },
    });
    const three = new RateLimiter({
      store: new RedisStore({ client: db.redis }),
      tiers: { t: { requestsPerHour: 3 } },
    });
    const admitted = async (lim: RateLimiter, subject: string): Promise<number> => {
      let n = 0;
      for (let k = 0; k < 5; k++) if ((await lim.acquire({ subject, estimatedTokens: 0 })).allowed) n++;
      return n;
    };
    expect(await admitted(one, 'shared-a')).toBe(1);
    expect(await admitted(three, 'shared-b')).toBe(3);
    expect(await admitted(one, 'shared-c')).toBe(1);
  });
});
