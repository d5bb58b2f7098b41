/**
 * What a refused client is told about retrying, through the middleware (node:http and
 * Express) and the package's real RateLimiter + MemoryStore: a banned client is told when its
 * ban ends and not to retry on its own, and a request that never fits gets no Retry-After at all. Before, both answered
 * `Retry-After: 1`, and SDKs that honour it (OpenAI's, Anthropic's) came back every second.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createRateLimitMiddleware, MemoryStore, RateLimiter, withRateLimit } from '../src/index.ts';
import { rateLimitHeaders, retryCannotHelp } from '../src/http/headers.ts';
import type { EnforcementLevel, RefusalReason } from '../src/types.ts';
import { close, fetchRaw, listen } from './http-support.ts';

let server: Server | undefined;
afterEach(async () => {
  if (server) await close(server);
  server = undefined;
});

const BAN_TTL_MS = 7_200_000;

function limiter(): RateLimiter {
  return new RateLimiter({
    store: new MemoryStore(),
    tiers: { free: { requestsPerMinute: 100, tokensPerMinute: 1_000 } },
    enforcement: { banTtlMs: BAN_TTL_MS },
  });
}

const servers = {
  'node:http': (lim: RateLimiter): Server =>
    createServer(
      withRateLimit(lim, (_req, res) => res.end('ok'), {
        trustUserIdHeader: true,
        secondarySubject: () => undefined,
        estimateTokens: (req) => Number(req.headers['x-tokens'] ?? 1),
      }),
    ),
  Express: (lim: RateLimiter): Server => {
    const app = express();
    app.use(
      createRateLimitMiddleware({
        limiter: lim,
        trustUserIdHeader: true,
        secondarySubject: () => undefined,
        estimateTokens: (req) => Number(req.headers['x-tokens'] ?? 1),
      }),
    );
    app.get('/', (_req, res) => void res.send('ok'));
    return createServer(app);
  },
};

interface Body {
  error: { reason: string; retry_after_seconds: number; message: string };
}

describe.each(Object.entries(servers))('refusals and retrying through %s', (_name, make) => {
  it('a banned client is told to come back when the ban ends, not in 1 s', async () => {
    const lim = limiter();
    server = make(lim);
    const port = await listen(server);
    await lim.ban('mallory');
    const refused = await fetchRaw(port, { headers: { 'x-user-id': 'mallory' } });
    expect(refused.status).toBe(429);
    const body = JSON.parse(refused.body) as Body;
    expect(body.error.reason).toBe('banned');
    // 7,200 s at the ban; a second or two may have passed.
    expect(body.error.retry_after_seconds).toBeGreaterThan(7_190);
    expect(body.error.retry_after_seconds).toBeLessThanOrEqual(7_200);
    expect(refused.headers['retry-after']).toBe(String(body.error.retry_after_seconds));
    // The SDKs' own retries cannot cure a ban (http-ban-sdk-retry.test.ts).
    expect(refused.headers['x-should-retry']).toBe('false');
    expect(body.error.message).toContain('retrying cannot succeed until the ban is lifted or ends in');
  });

  it('a request whose estimate alone exceeds a limit gets no Retry-After, and X-Should-Retry: false', async () => {
    const lim = limiter();
    server = make(lim);
    const port = await listen(server);
    const refused = await fetchRaw(port, { headers: { 'x-user-id': 'olga', 'x-tokens': '1001' } });
    expect(refused.status).toBe(429);
    const body = JSON.parse(refused.body) as Body;
    expect(body.error.reason).toBe('estimate_exceeds_limit');
    expect(body.error.retry_after_seconds).toBe(0);
    expect(body.error.message).toContain('retrying it cannot succeed');
    expect(refused.headers['retry-after']).toBeUndefined();
    expect(refused.headers['x-should-retry']).toBe('false');
    // The other headers still describe the limits.
    expect(refused.headers['ratelimit-policy']).toContain('"tpm";q=1000;w=60');
    // A request that fits is admitted, and a limit refusal keeps its Retry-After.
    const ok = await fetchRaw(port, { headers: { 'x-user-id': 'olga', 'x-tokens': '600' } });
    expect(ok.status).toBe(200);
    expect(ok.headers['x-should-retry']).toBeUndefined();
    const later = await fetchRaw(port, { headers: { 'x-user-id': 'olga', 'x-tokens': '600' } });
    expect(later.status).toBe(429);
    expect((JSON.parse(later.body) as Body).error.reason).toBe('tpm');
    expect(Number(later.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(later.headers['x-should-retry']).toBeUndefined();
  });
});

describe('rateLimitHeaders for refusals retrying cannot cure', () => {
  it('estimate_exceeds_limit with retryAfterMs 0: X-Should-Retry false, no Retry-After', () => {
    expect(
      rateLimitHeaders({
        allowed: false,
        reason: 'estimate_exceeds_limit',
        retryAfterMs: 0,
        level: 'normal',
        dimensions: [],
      }),
    ).toEqual({ 'X-Should-Retry': 'false' });
  });

  it('estimate_exceeds_limit over a throttled limit has the time until the throttle ends', () => {
    expect(
      rateLimitHeaders({
        allowed: false,
        reason: 'estimate_exceeds_limit',
        retryAfterMs: 61_500,
        level: 'throttled',
        dimensions: [],
      }),
    ).toEqual({ 'Retry-After': '62' });
  });
});

describe('retryCannotHelp', () => {
  const refusal = (reason: RefusalReason, retryAfterMs: number, level: EnforcementLevel = 'normal') =>
    retryCannotHelp({ allowed: false, reason, retryAfterMs, level, dimensions: [] });
  it('is true for a ban (until lifted or its end) and for an estimate that never fits', () => {
    expect(refusal('banned', 31_536_000_000, 'banned')).toBe(true);
    expect(refusal('banned', 0, 'banned')).toBe(true);
    expect(refusal('estimate_exceeds_limit', 0)).toBe(true);
  });
  it('is false where a wait cures the refusal: a block, a bucket, the throttle, and an admission', () => {
    expect(refusal('blocked', 300_000, 'blocked')).toBe(false);
    expect(refusal('rpm', 720_000)).toBe(false);
    expect(refusal('estimate_exceeds_limit', 1, 'throttled')).toBe(false);
    expect(refusal('store_unavailable', 1_000)).toBe(false);
    expect(retryCannotHelp({ allowed: true, retryAfterMs: 0, level: 'banned', dimensions: [] })).toBe(false);
  });
});
