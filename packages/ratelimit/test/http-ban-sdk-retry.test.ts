/**
 * A banned client, through the middleware, as the real OpenAI and Anthropic SDKs see it. The
 * refusal says when the ban ends (Retry-After) and that retrying cannot help
 * (X-Should-Retry: false), and both SDKs read that header before retrying a 429 on their own.
 * Without it, openai (7.x) ignores a Retry-After over 60 s and retries on its own short
 * backoff, and @anthropic-ai/sdk (1.x) honours one up to 2^31 - 1 ms (24.8 days), so it
 * sleeps through a shorter ban holding the caller's request, and retries a longer one (the
 * default 365 days) on its own backoff: every attempt refused while the ban lasts.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore, RateLimiter, withRateLimit } from '../src/index.ts';
import { close, listen } from './http-support.ts';

let server: Server | undefined;
afterEach(async () => {
  if (server) await close(server);
  server = undefined;
});

/** A server limiting every request by the x-user-id header; counts the requests it sees. */
async function banned(banTtlMs?: number): Promise<{ port: number; attempts: () => number }> {
  const lim = new RateLimiter({
    store: new MemoryStore(),
    tiers: { free: { requestsPerMinute: 100 } },
    ...(banTtlMs !== undefined ? { enforcement: { banTtlMs } } : {}),
  });
  await lim.ban('mallory');
  let attempts = 0;
  server = createServer(
    withRateLimit(
      lim,
      (_req, res) => {
        res.setHeader('Content-Type', 'application/json');
        res.end('{}');
      },
      { trustUserIdHeader: true, secondarySubject: () => undefined },
    ),
  );
  server.on('request', () => attempts++);
  const port = await listen(server);
  return { port, attempts: () => attempts };
}

const openai = (port: number): OpenAI =>
  new OpenAI({
    apiKey: 'test',
    baseURL: `http://127.0.0.1:${port}/v1`,
    maxRetries: 2,
    defaultHeaders: { 'x-user-id': 'mallory' },
  });

const anthropic = (port: number): Anthropic =>
  new Anthropic({
    apiKey: 'test',
    baseURL: `http://127.0.0.1:${port}`,
    maxRetries: 2,
    defaultHeaders: { 'x-user-id': 'mallory' },
  });

const chat = (c: OpenAI, signal?: AbortSignal) =>
  c.chat.completions.create(
    { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
    signal ? { signal } : {},
  );

const message = (c: Anthropic, signal?: AbortSignal) =>
  c.messages.create(
    { model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] },
    signal ? { signal } : {},
  );

describe('a banned client through the real SDKs', () => {
  it('openai: one attempt, a 429 RateLimitError at once, with the ban end in Retry-After (default 365-day ban)', async () => {
    const { port, attempts } = await banned();
    const err = (await chat(openai(port)).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(attempts()).toBe(1);
    expect(err.status).toBe(429);
    expect(err.headers?.get('x-should-retry')).toBe('false');
    expect(Number(err.headers?.get('retry-after'))).toBeGreaterThan(364 * 86_400);
  });

  it('anthropic: one attempt, a 429 RateLimitError at once (default 365-day ban)', async () => {
    const { port, attempts } = await banned();
    const err = (await message(anthropic(port)).catch((e: unknown) => e)) as InstanceType<
      typeof Anthropic.APIError
    >;
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect(attempts()).toBe(1);
    expect(err.headers?.get('x-should-retry')).toBe('false');
  });

  it('anthropic: a 2-hour ban is answered at once, not slept through by the SDK', async () => {
    const { port, attempts } = await banned(7_200_000);
    // Bounded: an SDK sleeping the Retry-After would be aborted here, after 5 s.
    const err = await message(anthropic(port), AbortSignal.timeout(5_000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect((err as InstanceType<typeof Anthropic.APIError>).headers?.get('retry-after')).toMatch(
      /^7[12]\d\d$/,
    );
    expect(attempts()).toBe(1);
  });

  it('openai: the same for a 2-hour ban', async () => {
    const { port, attempts } = await banned(7_200_000);
    const err = await chat(openai(port), AbortSignal.timeout(5_000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(attempts()).toBe(1);
  });
});
