/**
 * The rate-limit headers of a ban or block agree with the refusal. A banned client was told
 * `RateLimit: "rpm";r=100;t=0` and `X-RateLimit-Remaining: 100` (its buckets' figures, full)
 * beside a 429 with `Retry-After: 31536000` and `X-Should-Retry: false`: a client pacing itself
 * by the draft fields would retry at once. Now every item says r=0 and t the end Retry-After
 * gives, and the legacy fields 0 remaining, reset at that end; the policies are unchanged.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore, RateLimiter, withRateLimit } from '../src/index.ts';
import { close, listen } from './http-support.ts';

let server: Server | undefined;
afterEach(async () => {
  if (server) await close(server);
  server = undefined;
});

async function serve(lim: RateLimiter): Promise<(user: string) => Promise<Response>> {
  server = createServer(withRateLimit(lim, (_req, res) => res.end('{}'), { trustUserIdHeader: true }));
  const port = await listen(server);
  return (user) => fetch(`http://127.0.0.1:${port}/`, { headers: { 'x-user-id': user } });
}

function limiter(): RateLimiter {
  return new RateLimiter({
    store: new MemoryStore(),
    tiers: { free: { requestsPerMinute: 100, tokensPerMinute: 10_000, concurrent: 4 } },
    enforcement: { blockedAt: 20, bannedAt: 1_000, blockMs: 300_000, banTtlMs: 86_400_000 },
  });
}

/** The RateLimit field's items as [name, r, t]. */
function items(res: Response): Array<[string, number, number | undefined]> {
  return (res.headers.get('ratelimit') ?? '').split(', ').map((item) => {
    const [name, ...params] = item.split(';');
    const p = Object.fromEntries(params.map((kv) => kv.split('=') as [string, string]));
    return [JSON.parse(name!) as string, Number(p.r), p.t === undefined ? undefined : Number(p.t)];
  });
}

const NAMES = ['rpm', 'tpm', 'concurrent', 'secondary-rpm', 'secondary-tpm', 'secondary-concurrent'];

describe('rate-limit headers of a banned or blocked subject', () => {
  it('a ban: nothing remaining in any policy until the ban ends', async () => {
    const lim = limiter();
    const get = await serve(lim);
    expect((await get('mallory')).status).toBe(200); // a request before the ban spends one
    await lim.ban('mallory');
    const res = await get('mallory');
    expect(res.status).toBe(429);
    expect(res.headers.get('x-should-retry')).toBe('false');
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(86_390);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect(items(res)).toEqual(NAMES.map((n) => [n, 0, retryAfter]));
    expect(res.headers.get('x-ratelimit-limit')).toBe('100');
    expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(res.headers.get('x-ratelimit-reset')).toBe(String(retryAfter));
    // The quotas themselves are unchanged.
    expect(res.headers.get('ratelimit-policy')).toContain('"rpm";q=100;w=60');
    // Lifted: the buckets' figures again (one request before the ban, one now).
    await lim.lift('mallory');
    const after = await get('mallory');
    expect(after.status).toBe(200);
    expect(items(after)[0]).toEqual(['rpm', 98, expect.any(Number)]);
    expect(after.headers.get('x-ratelimit-remaining')).toBe('98');
  });

  it('a block: nothing remaining until the block ends', async () => {
    const lim = limiter();
    const get = await serve(lim);
    expect(await lim.recordViolation('bob', 25)).toBe('blocked');
    const res = await get('bob');
    expect(res.status).toBe(429);
    expect(res.headers.get('x-should-retry')).toBeNull();
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(290);
    expect(retryAfter).toBeLessThanOrEqual(300);
    expect(items(res)).toEqual(NAMES.map((n) => [n, 0, retryAfter]));
    expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(res.headers.get('x-ratelimit-reset')).toBe(String(retryAfter));
  });

  it('a refusal by a bucket keeps its figures', async () => {
    const lim = new RateLimiter({ store: new MemoryStore(), tiers: { free: { requestsPerMinute: 1 } } });
    const get = await serve(lim);
    expect((await get('carol')).status).toBe(200);
    const res = await get('carol');
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(items(res)).toEqual([
      ['rpm', 0, retryAfter],
      ['secondary-rpm', 0, retryAfter],
    ]);
  });
});
