// The middleware's default estimate reads req.body, which only a body parser sets. The README's
// Express example had none before the middleware: every request was reserved at 0 tokens and no
// cost, so tokensPerMinute and cost limits never refused anything (measured through a real
// RateLimiter: tokensPerMinute 1,000, three ~16,000-token prompts, all 200, "tpm";r=1000), and
// nothing said so. Now the middleware warns once (diag.warn) when a request with a body arrives
// unparsed and no estimateTokens is given.
import { createServer, type Server } from 'node:http';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createRateLimitMiddleware } from '../src/http/middleware-node.ts';
import { close, FakeLimiter, fetchRaw, listen, warningCapture } from './http-support.ts';

const { warnings, logger } = warningCapture();
let server: Server | undefined;
afterEach(async () => {
  diag.disable();
  warnings.length = 0;
  if (server) await close(server);
  server = undefined;
});

const body = {
  model: 'gpt-4o-mini',
  max_tokens: 10,
  messages: [{ role: 'user', content: 'word '.repeat(500) }],
};

async function app(
  limiter: FakeLimiter,
  parserFirst: boolean,
  estimateTokens?: () => number,
): Promise<number> {
  const a = express();
  if (parserFirst) a.use(express.json());
  a.use(
    createRateLimitMiddleware({
      limiter,
      trustUserIdHeader: true,
      ...(estimateTokens ? { estimateTokens } : {}),
    }),
  );
  a.post('/v1/chat', (_req, res) => res.json({ ok: true }));
  a.get('/v1/models', (_req, res) => res.json({ ok: true }));
  server = createServer(a);
  return await listen(server);
}

const post = (port: number) =>
  fetchRaw(port, { method: 'POST', path: '/v1/chat', headers: { 'x-user-id': 'u' }, body });

describe('rate-limit middleware: a request body no parser read', () => {
  it('warns once that token and cost limits do not apply, naming the fix', async () => {
    diag.setLogger(logger, DiagLogLevel.WARN);
    const limiter = new FakeLimiter();
    const port = await app(limiter, false);
    for (let i = 0; i < 3; i++) expect((await post(port)).status).toBe(200);
    expect(limiter.acquired.map((r) => r.estimatedTokens)).toEqual([0, 0, 0]);
    const unparsed = warnings.filter((w) => /unparsed/.test(w));
    expect(unparsed).toHaveLength(1);
    expect(unparsed[0]).toMatch(/token and cost limits do not apply.*express\.json\(\)/);
  });

  it('says nothing with a parser first, with estimateTokens, or for a request without a body', async () => {
    const trustWarning = (w: string): boolean => /x-user-id/.test(w);
    diag.setLogger(logger, DiagLogLevel.WARN);
    const parsed = new FakeLimiter();
    let port = await app(parsed, true);
    expect((await post(port)).status).toBe(200);
    expect(parsed.acquired[0]!.estimatedTokens).toBeGreaterThan(500);
    await close(server!);

    port = await app(new FakeLimiter(), false, () => 700);
    expect((await post(port)).status).toBe(200);
    await close(server!);

    port = await app(new FakeLimiter(), false);
    expect(
      (await fetchRaw(port, { method: 'GET', path: '/v1/models', headers: { 'x-user-id': 'u' } })).status,
    ).toBe(200);
    expect(warnings.filter((w) => !trustWarning(w))).toEqual([]);
  });
});
