/**
 * The middleware against the package's real RateLimiter and MemoryStore (not the test double):
 * headers carry the limiter's own figures, refusals carry its retry time, and an aborted
 * request leaves no live lease in the store.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
// Through the package entry point, as an application would import it.
import { MemoryStore, RateLimiter, setRateLimitUsage, withRateLimit } from '../src/index.ts';
import { abortAfterFirstChunk, close, fetchRaw, listen } from './http-support.ts';

let server: Server | undefined;
afterEach(async () => {
  if (server) await close(server);
  server = undefined;
});

describe('middleware with the real RateLimiter + MemoryStore', () => {
  it('200 with headers, abort releases the lease, 429 with Retry-After when requests run out', async () => {
    const limiter = new RateLimiter({
      store: new MemoryStore(),
      tiers: { free: { requestsPerMinute: 3, tokensPerDay: 10_000, concurrent: 2 } },
      enforcement: false,
    });
    server = createServer(
      withRateLimit(
        limiter,
        (req, res) => {
          if (req.url === '/hang') {
            res.write('partial');
            return;
          }
          setRateLimitUsage(res, { tokens: 150 });
          res.end('ok');
        },
        { estimateTokens: () => 400, secondarySubject: () => undefined },
      ),
    );
    const port = await listen(server);
    const user = { 'x-user-id': 'dana' };

    const first = await fetchRaw(port, { headers: user });
    expect(first.status).toBe(200);
    expect(first.headers['ratelimit-policy']).toBe(
      '"rpm";q=3;w=60, "tpd";q=10000;w=86400;llmsec-qu="tokens", "concurrent";q=2;qu="concurrent-requests"',
    );
    expect(first.headers.ratelimit).toMatch(/^"rpm";r=2;t=\d+, "tpd";r=9600;t=\d+, "concurrent";r=1/);
    expect(first.headers['x-ratelimit-limit']).toBe('3');
    expect(first.headers['x-ratelimit-remaining']).toBe('2');

    // Settled with the reported 150 tokens, not the 400 reserved. (The limiter's buckets drain
    // continuously: 10,000 per day is ~0.12 tokens/s, so allow a token or two of drain.)
    const tpd = async (): Promise<number> =>
      (await limiter.status('dana', 'free')).dimensions.find((d) => d.dimension === 'tpd')?.current ?? -1;
    await expect.poll(tpd).toBeLessThanOrEqual(150);
    expect(await tpd()).toBeGreaterThanOrEqual(147);

    await abortAfterFirstChunk(port, { path: '/hang', headers: user });
    await expect.poll(async () => (await limiter.status('dana', 'free')).activeLeases).toBe(0);
    // The cancelled reservation (400) was refunded: still only the 150 settled tokens.
    expect(await tpd()).toBeLessThanOrEqual(150);
    expect(await tpd()).toBeGreaterThanOrEqual(147);

    expect((await fetchRaw(port, { headers: user })).status).toBe(200);
    const refused = await fetchRaw(port, { headers: user });
    expect(refused.status).toBe(429);
    const body = JSON.parse(refused.body) as { error: { reason: string; retry_after_seconds: number } };
    expect(body.error.reason).toBe('rpm');
    expect(body.error.retry_after_seconds).toBeGreaterThanOrEqual(1);
    expect(body.error.retry_after_seconds).toBeLessThanOrEqual(60);
    expect(refused.headers['retry-after']).toBe(String(body.error.retry_after_seconds));
    expect(refused.headers['x-ratelimit-remaining']).toBe('0');
    await expect.poll(async () => (await limiter.status('dana', 'free')).activeLeases).toBe(0);
  });

  it("the default secondary subject (the client address) gets the user's tier without a secondaryTier, as the README warns", async () => {
    // Four users behind one address, one request each, at 2 requests a minute: without a
    // secondaryTier the address bucket has the user's budget and refuses the third user; with
    // one sized for an address, none is refused.
    const statuses = async (secondaryTier: 'ip' | undefined): Promise<number[]> => {
      const limiter = new RateLimiter({
        store: new MemoryStore(),
        tiers: { free: { requestsPerMinute: 2 }, ip: { requestsPerMinute: 600 } },
        defaultTier: 'free',
        ...(secondaryTier !== undefined ? { secondaryTier } : {}),
        enforcement: false,
      });
      server = createServer(withRateLimit(limiter, (_req, res) => res.end('ok')));
      const port = await listen(server);
      const got: number[] = [];
      for (const user of ['ann', 'ben', 'cy', 'dee'])
        got.push((await fetchRaw(port, { headers: { 'x-user-id': user } })).status);
      await close(server);
      server = undefined;
      return got;
    };
    expect(await statuses(undefined)).toEqual([200, 200, 429, 429]);
    expect(await statuses('ip')).toEqual([200, 200, 200, 200]);
  });
});
