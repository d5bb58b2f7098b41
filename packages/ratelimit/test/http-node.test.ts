import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { readJsonBody } from '../src/http/body.ts';
import { createRateLimitMiddleware, withRateLimit } from '../src/http/middleware-node.ts';
import type { RequestHandler } from '../src/http/middleware-node.ts';
import type { GuardRequest, RateLimitDecision, RateLimitMiddlewareOptions } from '../src/http/types.ts';
import { getRateLimitDecision, setRateLimitUsage } from '../src/http/usage.ts';
import {
  abortAfterFirstChunk,
  abortWhen,
  close,
  FakeLimiter,
  fetchRaw,
  listen,
  waitFor,
} from './http-support.ts';

let server: Server | undefined;
afterEach(async () => {
  if (server) await close(server);
  server = undefined;
});

async function serve(
  limiter: FakeLimiter,
  handler: RequestHandler,
  options: Omit<RateLimitMiddlewareOptions, 'limiter'> = {},
): Promise<number> {
  server = createServer(withRateLimit(limiter, handler, options));
  return await listen(server);
}

const ok: RequestHandler = (_req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end('ok');
};

describe('node:http middleware: admitted requests', () => {
  it('answers 200 with rate-limit headers and settles once on finish with the reported usage', async () => {
    const limiter = new FakeLimiter({ rpm: 60 });
    const port = await serve(limiter, (_req, res) => {
      setRateLimitUsage(res, { tokens: 321, costMicroUsd: 45 });
      res.end('ok');
    });
    const res = await fetchRaw(port, { headers: { 'x-user-id': 'alice' } });
    expect(res.status).toBe(200);
    expect(res.body).toBe('ok');
    expect(res.headers['ratelimit-policy']).toBe(
      '"rpm";q=60;w=60, "tpm";q=100000;w=60;llmsec-qu="tokens", "concurrent";q=10;qu="concurrent-requests", "secondary-rpm";q=600;w=60',
    );
    expect(res.headers.ratelimit).toBe(
      '"rpm";r=59;t=30, "tpm";r=100000;t=30, "concurrent";r=9, "secondary-rpm";r=599;t=30',
    );
    expect(res.headers['x-ratelimit-limit']).toBe('60');
    expect(res.headers['x-ratelimit-remaining']).toBe('59');
    expect(res.headers['retry-after']).toBeUndefined();
    await waitFor(() => limiter.settled.length === 1, 'settle');
    // Give any duplicate release a chance to show up before asserting "exactly once".
    await new Promise((r) => setTimeout(r, 50));
    expect(limiter.settled).toHaveLength(1);
    expect(limiter.settled[0]?.usage).toEqual({ tokens: 321, costMicroUsd: 45 });
    expect(limiter.cancelled).toHaveLength(0);
    expect(limiter.outstanding.size).toBe(0);
    expect(limiter.misuse).toEqual([]);
  });

  it('settles with the estimate when the app reports no usage', async () => {
    const limiter = new FakeLimiter();
    const port = await serve(limiter, ok, { estimateTokens: () => 777 });
    await fetchRaw(port);
    await waitFor(() => limiter.settled.length === 1, 'settle');
    expect(limiter.acquired[0]?.estimatedTokens).toBe(777);
    expect(limiter.settled[0]?.usage).toEqual({ tokens: 777 });
  });

  it('default subjects: the x-user-id user id, else a hash of the bearer token, else the anonymous client of the address; IP as secondary', async () => {
    const limiter = new FakeLimiter();
    const port = await serve(limiter, ok);
    await fetchRaw(port, { headers: { 'x-user-id': 'alice' } });
    await fetchRaw(port, { headers: { authorization: 'Bearer sk-secret-123' } });
    await fetchRaw(port);
    await fetchRaw(port, { headers: { 'x-user-id': 'x'.repeat(500) } });
    // A user id in the address namespace cannot name (or get banned) the address's bucket.
    await fetchRaw(port, { headers: { 'x-user-id': 'ip:127.0.0.1' } });
    const hash = createHash('sha256').update('sk-secret-123').digest('hex').slice(0, 16);
    expect(limiter.acquired.map((r) => [r.subject, r.secondarySubject])).toEqual([
      ['alice', 'ip:127.0.0.1'],
      [`key:${hash}`, 'ip:127.0.0.1'],
      ['ip:127.0.0.1#anonymous', 'ip:127.0.0.1'],
      ['x'.repeat(256), 'ip:127.0.0.1'],
      ['user:ip:127.0.0.1', 'ip:127.0.0.1'],
    ]);
    expect(JSON.stringify(limiter.acquired)).not.toContain('sk-secret-123');
  });

  it('custom subject, tier and cost; onDecision sees every decision; the decision is readable from the response', async () => {
    const limiter = new FakeLimiter();
    const decisions: RateLimitDecision[] = [];
    let seen: RateLimitDecision | undefined;
    const port = await serve(
      limiter,
      (_req, res) => {
        seen = getRateLimitDecision(res);
        res.end();
      },
      {
        subject: (req) => `tenant:${String(req.headers['x-tenant'])}`,
        secondarySubject: () => undefined,
        tier: () => 'pro',
        estimateTokens: () => 10,
        estimateCostMicroUsd: (_req, tokens) => tokens * 3,
        onDecision: (d) => decisions.push(d),
      },
    );
    await fetchRaw(port, { headers: { 'x-tenant': 'acme' } });
    expect(limiter.acquired[0]).toEqual({
      subject: 'tenant:acme',
      tier: 'pro',
      estimatedTokens: 10,
      estimatedCostMicroUsd: 30,
    });
    expect(decisions).toHaveLength(1);
    expect(seen?.subject).toBe('tenant:acme');
    expect(seen?.result.allowed).toBe(true);
  });

  it('custom subjects are kept as returned (trimmed, cut at 256 as the SDK does), empty falls back to the default without x-user-id', async () => {
    const limiter = new FakeLimiter();
    const port = await serve(limiter, ok, {
      subject: (req) => req.headers['x-tenant'] as string | undefined,
      secondarySubject: () => '',
    });
    // Braces are safe in a subject: both Redis keys of a subject share its first {...} (keys.ts).
    await fetchRaw(port, { headers: { 'x-tenant': 'acme}{other' } });
    // The client's x-user-id is not trusted for a subject function's fallback: the address's anonymous client.
    await fetchRaw(port, { headers: { 'x-tenant': '', 'x-user-id': 'frank' } });
    await fetchRaw(port, { headers: { 'x-tenant': ` ${'t'.repeat(300)}` } });
    expect(limiter.acquired.map((r) => [r.subject, r.secondarySubject])).toEqual([
      ['acme}{other', undefined],
      ['ip:127.0.0.1#anonymous', undefined],
      ['t'.repeat(256), undefined],
    ]);
  });

  it('estimates from a JSON body read with readJsonBody, which the handler reuses', async () => {
    const limiter = new FakeLimiter();
    let handlerBody: unknown;
    const port = await serve(
      limiter,
      async (req, res) => {
        handlerBody = await readJsonBody(req);
        res.end();
      },
      {
        estimateTokens: async (req) => {
          const body = (await readJsonBody(req)) as { messages: Array<{ content: string }> };
          return body.messages.reduce((n, m) => n + m.content.length, 0);
        },
      },
    );
    await fetchRaw(port, {
      method: 'POST',
      body: { messages: [{ content: 'abcd' }, { content: 'efghij' }] },
    });
    expect(limiter.acquired[0]?.estimatedTokens).toBe(10);
    expect(handlerBody).toEqual({ messages: [{ content: 'abcd' }, { content: 'efghij' }] });
  });

  it('a handler that throws gets a 500 and the lease is still settled', async () => {
    const limiter = new FakeLimiter();
    const port = await serve(limiter, () => {
      throw new Error('boom');
    });
    const res = await fetchRaw(port);
    expect(res.status).toBe(500);
    await waitFor(() => limiter.settled.length === 1, 'settle');
    expect(limiter.outstanding.size).toBe(0);
  });

  it('createRateLimitMiddleware resolves true for admitted requests when used without next', async () => {
    const limiter = new FakeLimiter({ rpm: 1 });
    const mw = createRateLimitMiddleware({ limiter });
    const results: boolean[] = [];
    server = createServer((req, res) => {
      void mw(req as GuardRequest, res).then((admitted) => {
        results.push(admitted);
        if (admitted) res.end('fine');
      });
    });
    const port = await listen(server);
    expect((await fetchRaw(port)).status).toBe(200);
    expect((await fetchRaw(port)).status).toBe(429);
    expect(results).toEqual([true, false]);
  });
});

describe('node:http middleware: refusals', () => {
  it('answers 429 with a JSON body naming the reason and Retry-After; the handler does not run', async () => {
    const limiter = new FakeLimiter({ tpm: 1000, retryAfterMs: 12_300 });
    let calls = 0;
    const port = await serve(
      limiter,
      (_req, res) => {
        calls += 1;
        res.end();
      },
      { estimateTokens: () => 600 },
    );
    expect((await fetchRaw(port)).status).toBe(200);
    const res = await fetchRaw(port);
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('13');
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers.ratelimit).toContain('"tpm";r=400;t=13');
    expect(JSON.parse(res.body)).toEqual({
      error: {
        type: 'rate_limited',
        reason: 'tpm',
        retry_after_seconds: 13,
        message: 'Rate limit exceeded (tpm). Retry in 13 s.',
      },
    });
    expect(calls).toBe(1);
    await waitFor(() => limiter.settled.length === 1, 'settle of the first request');
    expect(limiter.cancelled).toHaveLength(0);
    expect(limiter.outstanding.size).toBe(0);
  });

  it('store_unavailable (fail closed) answers failureStatus', async () => {
    const limiter = new FakeLimiter({ refuseWith: 'store_unavailable', retryAfterMs: 2000 });
    const port = await serve(limiter, ok, { failureStatus: 503 });
    const res = await fetchRaw(port);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(JSON.parse(res.body).error).toMatchObject({
      type: 'rate_limiter_unavailable',
      reason: 'store_unavailable',
      retry_after_seconds: 2,
    });
  });

  it('a limiter that throws gives 503 by default, or lets the request through with failOpen', async () => {
    const limiter = new FakeLimiter({ throwOnAcquire: new Error('redis exploded') });
    const port = await serve(limiter, ok);
    const closed = await fetchRaw(port);
    expect(closed.status).toBe(503);
    expect(JSON.parse(closed.body).error.reason).toBe('limiter_error');
    await close(server as Server);
    const port2 = await serve(limiter, ok, { failOpen: true });
    const open = await fetchRaw(port2);
    expect(open.status).toBe(200);
    expect(open.body).toBe('ok');
  });

  it('rejects a bad configuration at construction', () => {
    expect(() => createRateLimitMiddleware({ limiter: {} as FakeLimiter })).toThrow(
      /acquire\(\), settle\(\) and cancel\(\)/,
    );
    expect(() => createRateLimitMiddleware({ limiter: new FakeLimiter(), failureStatus: 200 })).toThrow(
      /failureStatus/,
    );
  });
});

describe('node:http middleware: aborted requests leak nothing', () => {
  it('client destroys the socket mid-response → cancel, no settle, no outstanding lease', async () => {
    const limiter = new FakeLimiter({ concurrent: 1 });
    const port = await serve(limiter, (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      if (req.url === '/done') res.end('done');
      else res.write('partial'); // and never ends: the client leaves first
    });
    expect(await abortAfterFirstChunk(port)).toBe(200);
    await waitFor(() => limiter.cancelled.length === 1, 'cancel');
    await new Promise((r) => setTimeout(r, 50));
    expect(limiter.cancelled).toHaveLength(1);
    expect(limiter.settled).toHaveLength(0);
    expect(limiter.outstanding.size).toBe(0);
    expect(limiter.misuse).toEqual([]);
    // The concurrency slot is free again: the next request is admitted.
    const next = await fetchRaw(port, { path: '/done' });
    expect(next.status).toBe(200);
    expect(next.body).toBe('done');
  }, 10_000);

  it('usage reported before the client left is charged (settle), not refunded', async () => {
    const limiter = new FakeLimiter();
    const port = await serve(limiter, (_req, res) => {
      res.write('first tokens');
      setRateLimitUsage(res, { tokens: 55 });
    });
    await abortAfterFirstChunk(port);
    await waitFor(() => limiter.settled.length === 1, 'settle');
    expect(limiter.settled[0]?.usage).toEqual({ tokens: 55 });
    expect(limiter.cancelled).toHaveLength(0);
    expect(limiter.outstanding.size).toBe(0);
  });

  it('the app ended the response but the client left before it was flushed → settled, not refunded', async () => {
    const limiter = new FakeLimiter();
    const port = await serve(limiter, (_req, res) => {
      // Far more than socket buffers hold: 'finish' cannot happen before the client leaves.
      res.end(Buffer.alloc(32 * 1024 * 1024, 97));
    });
    await abortAfterFirstChunk(port);
    await waitFor(() => limiter.settled.length + limiter.cancelled.length === 1, 'release');
    expect(limiter.settled).toHaveLength(1);
    expect(limiter.cancelled).toHaveLength(0);
    expect(limiter.outstanding.size).toBe(0);
  });

  it('client gone while acquire is pending → the lease is cancelled when it arrives and the handler never runs', async () => {
    const limiter = new FakeLimiter();
    limiter.closeGate();
    let calls = 0;
    const port = await serve(limiter, (_req, res) => {
      calls += 1;
      res.end();
    });
    const acquiring = new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (limiter.acquired.length === 1) {
          clearInterval(t);
          resolve();
        }
      }, 5);
    });
    await abortWhen(port, acquiring);
    // Let the server notice the closed socket before the limiter answers.
    await new Promise((r) => setTimeout(r, 50));
    limiter.openGate();
    await waitFor(() => limiter.cancelled.length === 1, 'cancel');
    expect(calls).toBe(0);
    expect(limiter.settled).toHaveLength(0);
    expect(limiter.outstanding.size).toBe(0);
  });

  it('many concurrent requests, half aborted: every lease released exactly once', async () => {
    const limiter = new FakeLimiter({ concurrent: 100, rpm: 1000 });
    const port = await serve(limiter, (req, res) => {
      res.write('x');
      if (req.url === '/finish') res.end();
    });
    const finished = Array.from({ length: 10 }, () => fetchRaw(port, { path: '/finish' }));
    const aborted = Array.from({ length: 10 }, () => abortAfterFirstChunk(port, { path: '/hang' }));
    await Promise.all([...finished, ...aborted]);
    await waitFor(() => limiter.settled.length + limiter.cancelled.length === 20, 'all leases released');
    expect(limiter.settled).toHaveLength(10);
    expect(limiter.cancelled).toHaveLength(10);
    expect(limiter.outstanding.size).toBe(0);
    expect(limiter.misuse).toEqual([]);
  });
});
