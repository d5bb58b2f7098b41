import { createServer } from 'node:http';
import type { Server } from 'node:http';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { estimateRequestBody } from '../src/estimate/request.ts';
import { createRateLimitMiddleware } from '../src/http/middleware-node.ts';
import type { RateLimitMiddlewareOptions } from '../src/http/types.ts';
import { abortAfterFirstChunk, close, FakeLimiter, fetchRaw, listen, waitFor } from './http-support.ts';

let server: Server | undefined;
afterEach(async () => {
  if (server) await close(server);
  server = undefined;
});

const chatBody = {
  model: 'gpt-4o-mini-2024-07-18',
  max_tokens: 200,
  messages: [
    { role: 'system', content: 'You are a terse assistant.' },
    { role: 'user', content: 'Summarise the plot of Hamlet in one sentence.' },
  ],
};

async function app(
  limiter: FakeLimiter,
  options: Omit<RateLimitMiddlewareOptions, 'limiter'> = {},
): Promise<number> {
  const a = express();
  a.use(express.json());
  a.use(createRateLimitMiddleware({ ...options, limiter }));
  a.post('/v1/chat', (_req, res) => {
    res.locals.llmsecUsage = { tokens: 42, costMicroUsd: 7 };
    res.json({ reply: 'A prince avenges his father and everyone dies.' });
  });
  a.get('/stream', (_req, res) => {
    res.write('data: first\n\n'); // never ends: the client leaves mid-stream
  });
  server = createServer(a);
  return await listen(server);
}

describe('Express middleware', () => {
  it('reserves the estimate of the parsed body, answers with headers, settles with res.locals.llmsecUsage', async () => {
    const limiter = new FakeLimiter();
    const port = await app(limiter);
    const res = await fetchRaw(port, {
      method: 'POST',
      path: '/v1/chat',
      headers: { 'x-user-id': 'bob' },
      body: chatBody,
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ reply: 'A prince avenges his father and everyone dies.' });
    expect(res.headers['ratelimit-policy']).toMatch(
      /^"rpm";q=100;w=60, "tpm";q=100000;w=60;llmsec-qu="tokens"/,
    );
    expect(res.headers['x-ratelimit-remaining']).toBe('99');

    const expected = estimateRequestBody(chatBody);
    expect(expected.outputTokens).toBe(200);
    expect(expected.inputTokens).toBeGreaterThan(20);
    expect(limiter.acquired[0]).toMatchObject({
      subject: 'bob',
      estimatedTokens: expected.totalTokens,
      estimatedCostMicroUsd: expected.costMicroUsd,
    });
    await waitFor(() => limiter.settled.length === 1, 'settle');
    expect(limiter.settled[0]?.usage).toEqual({ tokens: 42, costMicroUsd: 7 });
    expect(limiter.outstanding.size).toBe(0);
  });

  it('answers 429 with the JSON body and Retry-After, and the route does not run', async () => {
    const limiter = new FakeLimiter({ rpm: 1, retryAfterMs: 41_000 });
    const port = await app(limiter);
    expect((await fetchRaw(port, { method: 'POST', path: '/v1/chat', body: chatBody })).status).toBe(200);
    const res = await fetchRaw(port, { method: 'POST', path: '/v1/chat', body: chatBody });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('41');
    expect(res.headers['x-ratelimit-remaining']).toBe('0');
    expect(JSON.parse(res.body)).toEqual({
      error: {
        type: 'rate_limited',
        reason: 'rpm',
        retry_after_seconds: 41,
        message: 'Rate limit exceeded (rpm). Retry in 41 s.',
      },
    });
    await waitFor(() => limiter.settled.length === 1, 'settle of the admitted request');
    expect(limiter.outstanding.size).toBe(0);
  });

  it('a client that leaves mid-stream gets its lease cancelled', async () => {
    const limiter = new FakeLimiter();
    const port = await app(limiter);
    await abortAfterFirstChunk(port, { path: '/stream' });
    await waitFor(() => limiter.cancelled.length === 1, 'cancel');
    expect(limiter.settled).toHaveLength(0);
    expect(limiter.outstanding.size).toBe(0);
  });

  it('an error in a later handler goes to Express and the lease is settled when the 500 is sent', async () => {
    const limiter = new FakeLimiter();
    const a = express();
    a.use(createRateLimitMiddleware({ limiter }));
    a.get('/fail', () => {
      throw new Error('handler failed');
    });
    a.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ error: 'internal' });
    });
    server = createServer(a);
    const port = await listen(server);
    const res = await fetchRaw(port, { path: '/fail' });
    expect(res.status).toBe(500);
    expect(res.headers['ratelimit']).toBeDefined();
    await waitFor(() => limiter.settled.length === 1, 'settle');
    expect(limiter.outstanding.size).toBe(0);
  });
});
