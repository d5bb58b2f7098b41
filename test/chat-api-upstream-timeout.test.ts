import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChatApi, type ChatApi } from '../examples/chat-api/app.ts';
import { configFromEnv } from '../examples/chat-api/options.ts';

/**
 * The example chat API's upstream timeout is a setting (upstreamTimeoutMs,
 * LLMSEC_UPSTREAM_TIMEOUT_MS), not a fixed 30 s: an upstream that does not answer within it
 * gives the client a 504 `upstream_timeout` naming the bound. The upstream here never answers,
 * so with the old fixed 30 s the request outlasted the test's bound.
 */

let upstream: Server;
let upstreamUrl: string;
const received: IncomingMessage[] = [];
let api: ChatApi;

beforeAll(async () => {
  // Reads each request and never answers it.
  upstream = createServer((req) => {
    received.push(req);
    req.resume();
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  api = await startChatApi({
    upstream: { baseURL: upstreamUrl, apiKey: 'fake-key' },
    upstreamTimeoutMs: 200,
    serviceName: 'chat-api-upstream-timeout-test',
  });
});

afterAll(async () => {
  await api?.close();
  upstream?.closeAllConnections();
  await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
});

describe('the chat API upstream timeout', () => {
  it('an upstream slower than the configured timeout gives 504 upstream_timeout', async () => {
    const res = await fetch(`${api.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'timeout-user' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'When do you open on Sundays?' }] }),
    });
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(res.status, JSON.stringify(body)).toBe(504);
    expect(body.error).toEqual({
      type: 'upstream_timeout',
      message: 'upstream did not answer within 200 ms',
    });
    // The call did reach the upstream: the timeout, not a refused connection, answered.
    expect(received.length).toBeGreaterThan(0);
  }, 20_000);

  it('LLMSEC_UPSTREAM_TIMEOUT_MS sets it; unset keeps the default; anything but a positive integer is refused', () => {
    expect(configFromEnv({ LLMSEC_UPSTREAM_TIMEOUT_MS: '120000' }).upstreamTimeoutMs).toBe(120_000);
    expect(configFromEnv({}).upstreamTimeoutMs).toBeUndefined();
    for (const bad of ['0', '-5', '1.5', 'soon']) {
      expect(() => configFromEnv({ LLMSEC_UPSTREAM_TIMEOUT_MS: bad })).toThrow(
        `LLMSEC_UPSTREAM_TIMEOUT_MS must be a positive integer, got "${bad}"`,
      );
    }
  });

  it('a timeout past the 300 s at which fetch stops waiting for headers is refused, not cut short at 300 s under a 504 naming the longer bound', async () => {
    expect(configFromEnv({ LLMSEC_UPSTREAM_TIMEOUT_MS: '300000' }).upstreamTimeoutMs).toBe(300_000);
    // 3e9 also overflows setTimeout, which would have fired it after 1 ms.
    for (const long of ['300001', '600000', '3000000000']) {
      expect(() => configFromEnv({ LLMSEC_UPSTREAM_TIMEOUT_MS: long })).toThrow(
        `LLMSEC_UPSTREAM_TIMEOUT_MS must be an integer from 1 to 300000 (fetch's own 300 s headers timeout), got "${long}"`,
      );
    }
    await expect(
      startChatApi({ upstream: { baseURL: upstreamUrl, apiKey: 'fake-key' }, upstreamTimeoutMs: 600_000 }),
    ).rejects.toThrow('upstreamTimeoutMs must be an integer from 1 to 300000');
  });
});
