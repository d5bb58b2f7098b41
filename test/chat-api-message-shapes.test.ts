import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChatApi, type ChatApi } from '../examples/chat-api/app.ts';
import { demoUpstreamScript } from '../examples/chat-api/upstream-script.ts';
import { startFakeLlm, type FakeLlm } from '../examples/fake-llm/server.ts';

/**
 * The example chat API takes the request shapes ordinary OpenAI clients send for text chats,
 * not only the simplest: a `developer` message (the name openai 7 and OpenAI's docs give the
 * instructions for current models) and content as an array of text parts (what clients that
 * build multi-part messages send). Both used to get 400, so such a client could not run its
 * ordinary chat through the API at all. Parts that are not text are still refused, naming the
 * message.
 */

let upstream: FakeLlm;
let api: ChatApi;

beforeAll(async () => {
  upstream = await startFakeLlm({ script: demoUpstreamScript });
  api = await startChatApi({
    upstream: { baseURL: upstream.openaiBaseURL, apiKey: 'fake-key' },
    serviceName: 'chat-api-message-shapes-test',
  });
});

afterAll(async () => {
  await api?.close();
  await upstream?.close();
});

async function chat(user: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${api.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': user },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The messages the upstream got for the request whose last user text is `text`. */
function forwarded(text: string): Array<{ role: string; content: unknown }> {
  const r = upstream.requests.find((q) =>
    (q.body.messages as Array<{ role: string; content: unknown }>).some(
      (m) => m.role === 'user' && m.content === text,
    ),
  );
  expect(r, `a request with the user text ${JSON.stringify(text)} reached the upstream`).toBeDefined();
  return r!.body.messages as Array<{ role: string; content: unknown }>;
}

describe('the chat API takes ordinary OpenAI request shapes', () => {
  it('a developer message is taken as the client instructions a system message is (the API puts its own first)', async () => {
    const reply = await chat('shape-dev', {
      messages: [
        { role: 'developer', content: 'Answer in one sentence.' },
        { role: 'user', content: 'When do you open on Sundays?' },
      ],
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    const messages = forwarded('When do you open on Sundays?');
    expect(messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(JSON.stringify(messages)).not.toContain('Answer in one sentence.');
  });

  it('content as text parts is taken as their text, for user, assistant and system messages', async () => {
    const reply = await chat('shape-parts', {
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
        { role: 'user', content: [{ type: 'text', text: 'Hello' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Hi! How can I help?' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Which plans do you have?' },
            { type: 'text', text: 'And their prices?' },
          ],
        },
      ],
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    const messages = forwarded('Which plans do you have?\nAnd their prices?');
    expect(messages).toEqual([
      { role: 'system', content: expect.any(String) },
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: 'Hi! How can I help?' },
      { role: 'user', content: 'Which plans do you have?\nAnd their prices?' },
    ]);
  });

  it('stream: false (sent by clients that always name it) and content-encoding identity are served', async () => {
    // Only a stream asked for and a compressed body are refused (e2e-bad-input): an explicit
    // `stream: false` or `null`, or a body declared uncompressed, is the ordinary request.
    for (const [i, stream] of [false, null].entries()) {
      const text = `Do you ship abroad? (${i})`;
      const reply = await chat('shape-stream', { stream, messages: [{ role: 'user', content: text }] });
      expect(reply.status, JSON.stringify(reply.body)).toBe(200);
      forwarded(text);
    }
    const res = await fetch(`${api.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-encoding': 'Identity',
        'x-user-id': 'shape-enc',
      },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'Do you ship to Norway?' }] }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    forwarded('Do you ship to Norway?');
  });

  it('a part that is not text (an image), or an empty part list, gets 400 naming the message', async () => {
    for (const content of [
      [
        { type: 'text', text: 'What is in this picture?' },
        { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
      ],
      [],
      [{ type: 'text', text: 7 }],
    ]) {
      const reply = await chat('shape-image', { messages: [{ role: 'user', content }] });
      expect(reply.status, JSON.stringify(content)).toBe(400);
      const error = reply.body.error as { param?: string; message?: string };
      expect(error.param).toBe('messages[0]');
      expect(error.message).toMatch(/text/);
    }
  });
});
