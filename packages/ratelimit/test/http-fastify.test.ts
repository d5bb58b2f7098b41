import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { estimateRequestBody } from '../src/estimate/request.ts';
import { fastifyRateLimit, fastifyRateLimitPlugin } from '@llmsec/ratelimit/fastify';
import type { FastifyRateLimitOptions } from '@llmsec/ratelimit/fastify';
import { setRateLimitUsage } from '../src/http/usage.ts';
import { abortAfterFirstChunk, abortWhen, FakeLimiter, fetchRaw, waitFor } from './http-support.ts';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const body = {
  model: 'claude-sonnet-4-20250514',
  max_tokens: 300,
  system: 'Be brief.',
  messages: [{ role: 'user', content: 'Hello there, how are you?' }],
};

async function start(
  limiter: FakeLimiter,
  options: Omit<FastifyRateLimitOptions, 'limiter'> = {},
  asPlugin = false,
): Promise<number> {
  app = Fastify({ forceCloseConnections: true });
  if (asPlugin) await app.register(fastifyRateLimitPlugin, { ...options, limiter });
  else fastifyRateLimit(app, { ...options, limiter });
  app.post('/v1/messages', async (_request, reply) => {
    setRateLimitUsage(reply, { tokens: 99 });
    return { ok: true };
  });
  app.get('/stream', (_request, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
    reply.raw.write('data: first\n\n'); // never ends
  });
  let handled = 0;
  app.get('/count', async () => ({ handled: ++handled }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

describe('Fastify hooks', () => {
  it('preHandler (default) sees the parsed body; 200 with headers; settle with the reported usage', async () => {
    const limiter = new FakeLimiter();
    const port = await start(limiter);
    const res = await fetchRaw(port, {
      method: 'POST',
      path: '/v1/messages',
      headers: { 'x-user-id': 'carol' },
      body,
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ ok: true });
    const expected = estimateRequestBody(body);
    // Claude has no bundled tokenizer: characters / 4. 3 (reply primer) + system 'Be brief.'
    // ceil(9/4)=3 + message framing 3 + role 'user' 1 + content 25 chars → 7, plus max output 300.
    expect(expected).toMatchObject({ inputTokens: 17, outputTokens: 300, totalTokens: 317 });
    // claude-sonnet-4: $3 / $15 per MTok → 17×3 + 300×15 = 4551 micro-USD.
    expect(expected.costMicroUsd).toBe(4551);
    expect(res.headers.ratelimit).toBe(
      '"rpm";r=99;t=30, "tpm";r=99683;t=30, "concurrent";r=9, "secondary-rpm";r=999;t=30',
    );
    expect(limiter.acquired[0]).toMatchObject({
      subject: 'carol',
      secondarySubject: 'ip:127.0.0.1',
      estimatedTokens: expected.totalTokens,
      estimatedCostMicroUsd: expected.costMicroUsd,
    });
    await waitFor(() => limiter.settled.length === 1, 'settle');
    expect(limiter.settled[0]?.usage).toEqual({ tokens: 99 });
    expect(limiter.outstanding.size).toBe(0);
  });

  it('429 through the reply, with JSON body and Retry-After; the route does not run', async () => {
    const limiter = new FakeLimiter({ rpm: 1, retryAfterMs: 1_500 });
    const port = await start(limiter);
    expect(JSON.parse((await fetchRaw(port, { path: '/count' })).body)).toEqual({ handled: 1 });
    const res = await fetchRaw(port, { path: '/count' });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(res.body).error).toMatchObject({
      type: 'rate_limited',
      reason: 'rpm',
      retry_after_seconds: 2,
    });
    await waitFor(() => limiter.settled.length === 1, 'settle');
    expect(limiter.outstanding.size).toBe(0);
  });

  it('an aborted streaming request is cancelled', async () => {
    const limiter = new FakeLimiter();
    const port = await start(limiter);
    await abortAfterFirstChunk(port, { path: '/stream' });
    await waitFor(() => limiter.cancelled.length === 1, 'cancel');
    expect(limiter.settled).toHaveLength(0);
    expect(limiter.outstanding.size).toBe(0);
  });

  it('client gone during acquire (onRequest hook): lease cancelled, route never runs', async () => {
    const limiter = new FakeLimiter();
    limiter.closeGate();
    const port = await start(limiter, { hook: 'onRequest' });
    const acquiring = (async () => waitFor(() => limiter.acquired.length === 1, 'acquire'))();
    await abortWhen(port, acquiring, '/count');
    await new Promise((r) => setTimeout(r, 50));
    limiter.openGate();
    await waitFor(() => limiter.cancelled.length === 1, 'cancel');
    expect(limiter.outstanding.size).toBe(0);
    // The route's counter was not touched: the next admitted request is the first one handled.
    const res = await fetchRaw(port, { path: '/count' });
    expect(JSON.parse(res.body)).toEqual({ handled: 1 });
  });

  it('works registered as a plugin', async () => {
    const limiter = new FakeLimiter({ rpm: 1 });
    const port = await start(limiter, {}, true);
    expect((await fetchRaw(port, { path: '/count' })).status).toBe(200);
    expect((await fetchRaw(port, { path: '/count' })).status).toBe(429);
  });

  it('rejects an unknown hook name', () => {
    const f = Fastify();
    expect(() => fastifyRateLimit(f, { limiter: new FakeLimiter(), hook: 'onSend' as 'onRequest' })).toThrow(
      /hook must be/,
    );
  });
});
