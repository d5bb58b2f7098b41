import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChatApi, type ChatApi } from '../examples/chat-api/app.ts';
import { demoUpstreamScript } from '../examples/chat-api/upstream-script.ts';
import { startFakeLlm, type FakeLlm } from '../examples/fake-llm/server.ts';

/**
 * Bad input to the example chat API, over real HTTP: every malformed request gets a clear 4xx
 * with an OpenAI-style `{ error: { type, message } }` body, and the service keeps serving (a
 * valid request right after each one is answered 200 by the upstream).
 */

const MAX_BODY_BYTES = 2048;

let upstream: FakeLlm;
let api: ChatApi;

beforeAll(async () => {
  upstream = await startFakeLlm({ script: demoUpstreamScript });
  api = await startChatApi({
    upstream: { baseURL: upstream.openaiBaseURL, apiKey: 'fake-key' },
    maxBodyBytes: MAX_BODY_BYTES,
    serviceName: 'chat-api-bad-input-test',
  });
});

afterAll(async () => {
  await api?.close();
  await upstream?.close();
});

interface Reply {
  status: number;
  body: { error?: { type?: string; message?: string; param?: string } } & Record<string, unknown>;
}

const VALID_BODY = JSON.stringify({ messages: [{ role: 'user', content: 'What are your opening hours?' }] });
const JSON_TYPE = { 'content-type': 'application/json' };

async function call(init: {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Blob | ReadableStream<Uint8Array>;
}): Promise<Reply> {
  const res = await fetch(`${api.url}${init.path ?? '/v1/chat/completions'}`, {
    method: init.method ?? 'POST',
    headers: init.headers ?? {},
    ...(init.body !== undefined ? { body: init.body, duplex: 'half' } : {}),
  } as RequestInit);
  const text = await res.text();
  let body: Reply['body'] = {};
  try {
    body = JSON.parse(text) as Reply['body'];
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body };
}

let validCount = 0;
/** A well-formed request from a fresh user (so the free plan's per-user limits never bite). */
async function expectStillServing(): Promise<void> {
  validCount++;
  const reply = await call({
    headers: { ...JSON_TYPE, 'x-user-id': `good-user-${validCount}` },
    body: VALID_BODY,
  });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  expect(reply.body.object).toBe('chat.completion');
}

interface Case {
  name: string;
  send: () => Promise<Reply>;
  status: number;
  type: string;
  /** The message must say what is wrong (e.g. name the field). */
  message: RegExp;
  param?: string;
}

const user = (id = 'bad-input-user'): Record<string, string> => ({ ...JSON_TYPE, 'x-user-id': id });

const cases: Case[] = [
  {
    name: 'invalid JSON',
    send: () => call({ headers: user(), body: '{"messages": [' }),
    status: 400,
    type: 'invalid_request_error',
    message: /invalid JSON/i,
  },
  {
    name: 'a JSON value that is not an object',
    send: () => call({ headers: user(), body: '[1, 2, 3]' }),
    status: 400,
    type: 'invalid_request_error',
    message: /JSON object/,
  },
  {
    name: 'oversized body with a declared content-length',
    send: () =>
      call({
        headers: user(),
        body: JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY_BYTES * 2) }] }),
      }),
    status: 413,
    type: 'invalid_request_error',
    message: new RegExp(`over ${MAX_BODY_BYTES} bytes`),
  },
  {
    name: 'oversized body streamed without a content-length (chunked)',
    send: () => {
      const chunk = new TextEncoder().encode('x'.repeat(1024));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 4) controller.enqueue(chunk);
          else controller.close();
        },
      });
      return call({ headers: user(), body: stream });
    },
    status: 413,
    type: 'invalid_request_error',
    message: new RegExp(`over ${MAX_BODY_BYTES} bytes`),
  },
  {
    name: 'missing messages',
    send: () => call({ headers: user(), body: JSON.stringify({ model: 'gpt-4o-mini' }) }),
    status: 400,
    type: 'invalid_request_error',
    message: /"messages"/,
    param: 'messages',
  },
  {
    name: 'empty messages',
    send: () => call({ headers: user(), body: JSON.stringify({ messages: [] }) }),
    status: 400,
    type: 'invalid_request_error',
    message: /"messages"/,
    param: 'messages',
  },
  {
    name: 'a message without string content',
    send: () =>
      call({
        headers: user(),
        body: JSON.stringify({
          messages: [
            { role: 'user', content: 'hi' },
            { role: 'user', content: 42 },
          ],
        }),
      }),
    status: 400,
    type: 'invalid_request_error',
    message: /messages\[1\]/,
    param: 'messages[1]',
  },
  {
    name: 'an unknown role',
    send: () =>
      call({ headers: user(), body: JSON.stringify({ messages: [{ role: 'wizard', content: 'hi' }] }) }),
    status: 400,
    type: 'invalid_request_error',
    message: /messages\[0\]/,
    param: 'messages[0]',
  },
  {
    name: 'max_tokens out of range',
    send: () =>
      call({
        headers: user(),
        body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: -5 }),
      }),
    status: 400,
    type: 'invalid_request_error',
    message: /max_tokens/,
    param: 'max_tokens',
  },
  {
    // The API answers one JSON completion. A streaming client (`stream: true`) answered with it
    // instead of server-sent events reads an empty stream and no error (openai 7: zero chunks),
    // so the request is refused, naming the field.
    name: 'stream: true (this API does not stream)',
    send: () =>
      call({
        headers: user(),
        body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      }),
    status: 400,
    type: 'invalid_request_error',
    message: /"stream"/,
    param: 'stream',
  },
  {
    name: 'a gzip-compressed body (this API reads uncompressed JSON)',
    send: () =>
      call({
        headers: { ...user(), 'content-encoding': 'gzip' },
        body: new Blob([gzipSync(VALID_BODY)]),
      }),
    status: 415,
    type: 'invalid_request_error',
    message: /content-encoding/,
  },
  {
    name: 'a model that is not a string',
    send: () =>
      call({
        headers: user(),
        body: JSON.stringify({ model: 7, messages: [{ role: 'user', content: 'hi' }] }),
      }),
    status: 400,
    type: 'invalid_request_error',
    message: /"model"/,
    param: 'model',
  },
  {
    name: 'a model outside the price table (invented names are not forwarded upstream nor into metrics)',
    send: () =>
      call({
        headers: user(),
        body: JSON.stringify({ model: 'junk-model-4711', messages: [{ role: 'user', content: 'hi' }] }),
      }),
    status: 400,
    type: 'invalid_request_error',
    message: /model "junk-model-4711" is not available/,
    param: 'model',
  },
  {
    name: 'tools that are not function tools',
    send: () =>
      call({
        headers: user(),
        body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function' }] }),
      }),
    status: 400,
    type: 'invalid_request_error',
    message: /tools/,
    param: 'tools',
  },
  {
    name: 'wrong content-type',
    send: () =>
      call({ headers: { 'content-type': 'text/plain', 'x-user-id': 'bad-input-user' }, body: VALID_BODY }),
    status: 415,
    type: 'invalid_request_error',
    message: /application\/json/,
  },
  {
    name: 'no content-type',
    send: () => call({ headers: { 'x-user-id': 'bad-input-user' }, body: new Blob([VALID_BODY]) }),
    status: 415,
    type: 'invalid_request_error',
    message: /application\/json/,
  },
  {
    name: 'missing x-user-id',
    send: () => call({ headers: JSON_TYPE, body: VALID_BODY }),
    status: 401,
    type: 'authentication_error',
    message: /x-user-id/,
  },
  {
    name: 'an x-user-id over 128 characters',
    send: () => call({ headers: user('u'.repeat(129)), body: VALID_BODY }),
    status: 400,
    type: 'invalid_request_error',
    message: /x-user-id/,
    param: 'x-user-id',
  },
  {
    name: 'an x-user-id with characters outside the allowed set',
    send: () => call({ headers: user('mallory<script>'), body: VALID_BODY }),
    status: 400,
    type: 'invalid_request_error',
    message: /x-user-id/,
    param: 'x-user-id',
  },
  {
    name: 'an empty x-user-id',
    send: () => call({ headers: user(''), body: VALID_BODY }),
    status: 400,
    type: 'invalid_request_error',
    message: /x-user-id/,
    param: 'x-user-id',
  },
  {
    name: 'an unknown route',
    send: () => call({ path: '/v1/no-such-thing', headers: user(), body: VALID_BODY }),
    status: 404,
    type: 'not_found',
    message: /\/v1\/no-such-thing/,
  },
  {
    name: 'the wrong method',
    send: () => call({ method: 'GET', headers: { 'x-user-id': 'bad-input-user' } }),
    status: 405,
    type: 'invalid_request_error',
    message: /POST/,
  },
];

describe('the chat API under bad input', () => {
  it('answers a valid request before anything else', async () => {
    await expectStillServing();
  });

  it.each(cases.map((c) => [c.name, c] as const))(
    '%s: a clear 4xx, and the service keeps serving',
    async (_name, c) => {
      const reply = await c.send();
      expect(reply.status, JSON.stringify(reply.body)).toBe(c.status);
      expect(reply.body.error?.type).toBe(c.type);
      expect(reply.body.error?.message).toMatch(c.message);
      if (c.param !== undefined) expect(reply.body.error?.param).toBe(c.param);
      await expectStillServing();
    },
  );

  it('a client that declares a huge body and never sends it gets 413 at once, and the service keeps serving', async () => {
    // The limit is enforced on the declared length before any byte is read, so a client cannot
    // make the server wait for (or buffer) a body it has announced as too large.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        `${api.url}/v1/chat/completions`,
        {
          method: 'POST',
          headers: {
            ...JSON_TYPE,
            'x-user-id': 'bad-input-user',
            'content-length': String(50 * 1024 * 1024),
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        },
      );
      req.on('error', reject);
      req.write('{"messages":');
    });
    expect(status).toBe(413);
    await expectStillServing();
  });

  it('no bad request reached the upstream', () => {
    // Only the valid requests were forwarded: bad input is refused before the LLM call costs anything.
    const userContents = upstream.requests.map((r) => {
      const messages = r.body.messages as Array<{ role: string; content: string }>;
      return messages.find((m) => m.role === 'user')?.content;
    });
    expect(userContents.length).toBe(validCount);
    expect(new Set(userContents)).toEqual(new Set(['What are your opening hours?']));
  });
});
