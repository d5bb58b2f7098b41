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
      commandTimeoutMs: 2_000,
    });
    const three = new RateLimiter({
      store: new RedisStore({ client: db.redis }),
      tiers: { t: { requestsPerHour: 3 } },
      commandTimeoutMs: 2_000,
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

  it('a tier without a concurrency limit is called without the lease key and id; its tokens are settled', async () => {
    const sent: (string | number)[][] = [];
    const client = db.redis.duplicate();
    type EvalSha = (...a: (string | number)[]) => Promise<Buffer>;
    const spied = client as unknown as { evalshaBuffer: EvalSha };
    const evalsha = spied.evalshaBuffer.bind(client);
    spied.evalshaBuffer = (...a) => {
      sent.push(a);
      return evalsha(...a);
    };
    try {
      const lim = new RateLimiter({
        store: new RedisStore({ client }),
        tiers: {
          lean: { requestsPerHour: 2, tokensPerHour: 1_000 },
          leased: { requestsPerHour: 2, concurrent: 1 },
        },
        defaultTier: 'lean',
        commandTimeoutMs: 2_000,
      });
      const a = await lim.acquire({ subject: 'lean-1', tier: 'lean', estimatedTokens: 100 });
      await lim.settle(a.lease!, { tokens: 400 });
      // sha, numkeys, rl key, then the amounts only: acquire (tokens, cost), settle (requests, tokens, cost).
      expect(sent.map((c) => c.slice(1, 3))).toEqual([
        [1, 'llmsec:{lean-1}:rl'],
        [1, 'llmsec:{lean-1}:rl'],
      ]);
      expect(sent[0]).toHaveLength(5);
      expect(sent[1]).toHaveLength(6);
      const status = await lim.status('lean-1', 'lean');
      expect(status.dimensions.find((d) => d.dimension === 'tph')!.current).toBe(400);
      expect((await lim.acquire({ subject: 'lean-1', tier: 'lean', estimatedTokens: 600 })).allowed).toBe(
        true,
      );
      expect((await lim.acquire({ subject: 'lean-1', tier: 'lean', estimatedTokens: 0 })).allowed).toBe(
        false,
      );

      sent.length = 0;
      const b = await lim.acquire({ subject: 'leased-1', tier: 'leased', estimatedTokens: 0 });
      expect(sent[0]![1]).toBe(2);
      expect((await lim.acquire({ subject: 'leased-1', tier: 'leased', estimatedTokens: 0 })).allowed).toBe(
        false,
      );
      await lim.settle(b.lease!, { tokens: 0 });
      expect((await lim.status('leased-1', 'leased')).activeLeases).toBe(0);
    } finally {
      client.disconnect();
    }
  });
});
