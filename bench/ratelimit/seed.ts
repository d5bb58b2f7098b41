import type { Redis } from 'ioredis';

/**
 * A faithful port of the seed limiter, kept as the benchmark baseline (do not use it). Its
 * flaws, reproduced on purpose:
 * - six limits (rpm, rph, rpd, tpm, tph, concurrent) checked in 11 sequential round trips:
 *   per window a ZREMRANGEBYSCORE then a ZCARD (requests) or ZRANGEBYSCORE + sum (tokens),
 *   and a GET of the concurrency counter;
 * - the check and the record are separate steps, so concurrent requests all pass the check
 *   before any of them is recorded (check-then-act race);
 * - the concurrency counter is read but nothing ever increments it;
 * - every request adds a member to five sorted sets (per-request entries, memory grows with
 *   traffic, and summing the token windows slows as history grows);
 * - the application clock (Date.now()), not Redis's.
 */
export interface SeedLimits {
  rpm: number;
  rph: number;
  rpd: number;
  tpm: number;
  tph: number;
  concurrent: number;
}

const WINDOWS = { rpm: 60_000, rph: 3_600_000, rpd: 86_400_000, tpm: 60_000, tph: 3_600_000 } as const;

export class SeedRateLimiter {
  private readonly redis: Redis;
  private readonly limits: SeedLimits;
  private seq = 0;

  constructor(redis: Redis, limits: SeedLimits) {
    this.redis = redis;
    this.limits = limits;
  }

  /** Step 1: check every limit (11 round trips). */
  async check(userId: string, estimatedTokens: number): Promise<{ allowed: boolean; limitType?: string }> {
    const now = Date.now();
    for (const w of ['rpm', 'rph', 'rpd'] as const) {
      const key = `ratelimit:${userId}:${w}`;
      await this.redis.zremrangebyscore(key, 0, now - WINDOWS[w]);
      const count = await this.redis.zcard(key);
      if (count >= this.limits[w]) return { allowed: false, limitType: w };
    }
    for (const w of ['tpm', 'tph'] as const) {
      const key = `ratelimit:${userId}:${w}`;
      await this.redis.zremrangebyscore(key, 0, now - WINDOWS[w]);
      const members = await this.redis.zrangebyscore(key, now - WINDOWS[w], '+inf');
      let used = 0;
      for (const m of members) used += Number(m.split(':')[1]);
      if (used + estimatedTokens > this.limits[w]) return { allowed: false, limitType: w };
    }
    const concurrent = Number((await this.redis.get(`ratelimit:${userId}:concurrent`)) ?? 0);
    if (concurrent >= this.limits.concurrent) return { allowed: false, limitType: 'concurrent' };
    return { allowed: true };
  }

  /** Step 2, separate: record the request in every window (one pipelined round trip). */
  async record(userId: string, tokens: number): Promise<void> {
    const now = Date.now();
    const member = `${now}-${process.pid}-${++this.seq}`;
    const p = this.redis.pipeline();
    for (const w of ['rpm', 'rph', 'rpd'] as const) {
      p.zadd(`ratelimit:${userId}:${w}`, now, member);
      p.expire(`ratelimit:${userId}:${w}`, WINDOWS[w] / 1000);
    }
    for (const w of ['tpm', 'tph'] as const) {
      p.zadd(`ratelimit:${userId}:${w}`, now, `${member}:${tokens}`);
      p.expire(`ratelimit:${userId}:${w}`, WINDOWS[w] / 1000);
    }
    await p.exec();
  }

  keys(userId: string): string[] {
    return ['rpm', 'rph', 'rpd', 'tpm', 'tph', 'concurrent'].map((w) => `ratelimit:${userId}:${w}`);
  }
}
