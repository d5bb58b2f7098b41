import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { openaiChatAdapter } from '../src/instrumentation/openai-chat.ts';
import { openaiCompletionsAdapter } from '../src/instrumentation/openai-completions.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';

/**
 * A streamed chunk that carries several choices at once (OpenAI sends one a chunk; an
 * OpenAI-compatible server or proxy may batch them). When the chunk that brings the second
 * choice also held choice 0's text, the accumulators started each choice's own text from
 * choice 0's text before that chunk, so the end checks (pii_detected, block, leakage, custom
 * guards) never read that piece of choice 0: an address in it was not reported in detect mode.
 */

const h = useInstrHarness();
const EMAIL = 'jane.doe@example.com';

function sse(chunks: unknown[]): string {
  return [...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), 'data: [DONE]\n\n'].join('');
}

function client(body: string) {
  return instrumentClient(
    new OpenAI({
      apiKey: 'test',
      baseURL: 'http://127.0.0.1:9/v1',
      maxRetries: 0,
      fetch: () =>
        Promise.resolve(new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } })),
    }),
    { ...h.options(), guards: { output: [piiGuard({ mode: 'detect', directions: ['output'] })] } },
  );
}

const meta = { id: 'c1', created: 1, model: 'gpt-4o-mini' };

describe('a streamed chunk with two choices, the second new', () => {
  it('chat: the end check reads choice 0 of that chunk (detect reports its address)', async () => {
    const body = sse([
      {
        ...meta,
        object: 'chat.completion.chunk',
        choices: [
          { index: 0, delta: { content: `Mail ${EMAIL}` }, finish_reason: null },
          { index: 1, delta: { content: 'Hello' }, finish_reason: null },
        ],
      },
      {
        ...meta,
        object: 'chat.completion.chunk',
        choices: [
          { index: 0, delta: {}, finish_reason: 'stop' },
          { index: 1, delta: {}, finish_reason: 'stop' },
        ],
      },
    ]);
    h.recorded.length = 0;
    const stream = await client(body).chat.completions.create({
      model: 'gpt-4o-mini',
      n: 2,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    for await (const _ of stream);
    const pii = h.recorded.filter((e) => e.category === 'pii_detected');
    expect(pii).toHaveLength(1);
    expect(pii[0]!.metadata?.pii_types).toEqual(['email']);
  });

  it('legacy completions: the same through the real client', async () => {
    const body = sse([
      {
        ...meta,
        object: 'text_completion',
        choices: [
          { index: 0, text: `Mail ${EMAIL}`, logprobs: null, finish_reason: null },
          { index: 1, text: 'Hello', logprobs: null, finish_reason: null },
        ],
      },
      {
        ...meta,
        object: 'text_completion',
        choices: [
          { index: 0, text: '', logprobs: null, finish_reason: 'stop' },
          { index: 1, text: '', logprobs: null, finish_reason: 'stop' },
        ],
      },
    ]);
    h.recorded.length = 0;
    const stream = await client(body).completions.create({
      model: 'gpt-3.5-turbo-instruct',
      n: 2,
      stream: true,
      prompt: 'hi',
    });
    for await (const _ of stream);
    expect(h.recorded.filter((e) => e.category === 'pii_detected')).toHaveLength(1);
  });

  it("the accumulators' text: each choice whole, in index order, whatever chunk brought it", () => {
    const chat = openaiChatAdapter.newStream();
    chat.observe({ choices: [{ index: 0, delta: { content: 'a' } }] });
    chat.observe({
      choices: [
        { index: 0, delta: { content: 'b' } },
        { index: 1, delta: { content: 'x' } },
        { index: 0, delta: { content: 'c' } },
      ],
    });
    chat.observe({ choices: [{ index: 1, delta: { content: 'y' } }] });
    expect(chat.summary().text).toBe('abc\nxy');
    const legacy = openaiCompletionsAdapter.newStream();
    legacy.observe({ choices: [{ index: 0, text: 'a' }] });
    legacy.observe({
      choices: [
        { index: 0, text: 'b' },
        { index: 1, text: 'x' },
        { index: 0, text: 'c' },
      ],
    });
    legacy.observe({ choices: [{ index: 1, text: 'y' }] });
    expect(legacy.summary().text).toBe('abc\nxy');
  });
});
