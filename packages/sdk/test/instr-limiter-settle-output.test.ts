// When the provider reports no output tokens (an OpenAI chat stream without
// stream_options.include_usage, a stream cut early, a proxy that drops usage), the lease settles
// on what was output: its characters / 4, rounded up (lease.ts). Since the SDK reserves with the
// limiter's estimate (1,024 output tokens without max_tokens) it settled the reserve: a short
// streamed reply charged a thousand tokens it never used.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { estimateRequestBody, RateLimiter } from '@llmsec/ratelimit';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { chatToolCallReply } from './fixtures/chat-tool-call-reply.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/** The fake server's answer to the next request (or how to make it from the request): set per test. */
let reply: FakeResponse | ((req: FakeRequest) => FakeResponse) = { kind: 'error', status: 500 };
const h = useInstrHarness({ script: (req) => (typeof reply === 'function' ? reply(req) : reply) });

/** A real limiter (in-process store) whose settles are recorded. */
function recordedLimiter() {
  const limiter = new RateLimiter({ tiers: { free: { tokensPerMinute: 10_000_000 } }, defaultTier: 'free' });
  const settled: Array<{ tokens: number }> = [];
  const settle = limiter.settle.bind(limiter);
  limiter.settle = (lease, usage) => {
    settled.push(usage);
    return settle(lease, usage);
  };
  return { limiter, settled };
}

const chunk = (delta: unknown, finish: string | null = null, usage?: unknown): SseEvent => ({
  data: {
    id: 'chatcmpl-s',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(usage !== undefined ? { usage } : {}),
  },
});

/** A chat stream of `pieces` of content, no usage chunk (the default without include_usage). */
function chatStream(pieces: string[], extra: SseEvent[] = []): FakeResponse {
  return {
    kind: 'sse',
    events: [
      chunk({ role: 'assistant', content: '' }),
      ...pieces.map((p) => chunk({ content: p })),
      chunk({}, 'stop'),
      ...extra,
      { data: '[DONE]' },
    ],
  };
}

const ask = [{ role: 'user' as const, content: 'where is my order?' }];
const openai = (limiter: RateLimiter) =>
  instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
    ...h.options(),
    limiter,
  });

/** The tokens settled for one call: the request's input estimate plus the output settled on. */
async function outputSettled(settled: Array<{ tokens: number }>, body: unknown): Promise<number> {
  await eventually(() => settled.length === 1);
  return settled[0]!.tokens - estimateRequestBody(body).inputTokens;
}

describe('rate-limit settle without reported output tokens', () => {
  it('an OpenAI chat stream without include_usage settles its reply chars / 4, not the 1,024 reserved', async () => {
    const { limiter, settled } = recordedLimiter();
    const text = ['Your order ', 'shipped today ', 'and arrives Friday.'];
    reply = chatStream(text);
    const body = { model: 'gpt-4o-mini', messages: ask, stream: true as const };
    let got = '';
    for await (const c of await openai(limiter).chat.completions.create(body))
      got += c.choices[0]?.delta.content ?? '';
    expect(got).toBe(text.join(''));
    expect(await outputSettled(settled, body)).toBe(Math.ceil(got.length / 4)); // 44 chars: 11
  });

  it("counts a streamed tool call's arguments", async () => {
    const { limiter, settled } = recordedLimiter();
    const args = '{"order_id":"A-1234","carrier":"ups"}';
    reply = (req) => chatToolCallReply(req, { args, pieceChars: 15 });
    const body = { model: 'gpt-4o-mini', messages: ask, stream: true as const };
    for await (const c of await openai(limiter).chat.completions.create(body)) void c;
    expect(await outputSettled(settled, body)).toBe(Math.ceil(args.length / 4));
  });

  it('a stream the application broke off settles what was delivered', async () => {
    const { limiter, settled } = recordedLimiter();
    reply = chatStream([
      'Hello ',
      'there, ',
      ...Array.from({ length: 50 }, () => 'more text that never got read '),
    ]);
    const body = { model: 'gpt-4o-mini', messages: ask, stream: true as const };
    let got = '';
    for await (const c of await openai(limiter).chat.completions.create(body)) {
      got += c.choices[0]?.delta.content ?? '';
      if (got.length >= 13) break;
    }
    expect(got).toBe('Hello there, ');
    expect(await outputSettled(settled, body)).toBe(Math.ceil(got.length / 4));
  });

  it('a reported usage still wins', async () => {
    const { limiter, settled } = recordedLimiter();
    reply = chatStream(
      ['Short.'],
      [
        {
          data: {
            id: 'chatcmpl-s',
            object: 'chat.completion.chunk',
            created: 1,
            model: 'gpt-4o-mini',
            choices: [],
            usage: { prompt_tokens: 9, completion_tokens: 300, total_tokens: 309 },
          },
        },
      ],
    );
    const body = {
      model: 'gpt-4o-mini',
      messages: ask,
      stream: true as const,
      stream_options: { include_usage: true },
    };
    for await (const c of await openai(limiter).chat.completions.create(body)) void c;
    await eventually(() => settled.length === 1);
    expect(settled[0]!.tokens).toBe(309);
  });

  it('is capped at max_tokens when the request set it', async () => {
    const { limiter, settled } = recordedLimiter();
    reply = chatStream(['a'.repeat(400)]);
    const body = { model: 'gpt-4o-mini', messages: ask, stream: true as const, max_tokens: 20 };
    for await (const c of await openai(limiter).chat.completions.create(body)) void c;
    expect(await outputSettled(settled, body)).toBe(20);
  });

  it('a complete response without usage settles its output texts, tool arguments too', async () => {
    const { limiter, settled } = recordedLimiter();
    const content = 'It shipped.';
    const args = '{"order_id":"A-1234"}';
    reply = (req) => chatToolCallReply(req, { args, content });
    const body = { model: 'gpt-4o-mini', messages: ask };
    await openai(limiter).chat.completions.create(body);
    expect(await outputSettled(settled, body)).toBe(Math.ceil((content.length + args.length) / 4));
  });

  it('an Anthropic stream without usage settles its text and tool input', async () => {
    const { limiter, settled } = recordedLimiter();
    const text = 'Let me look that up for you.';
    const input = '{"order_id":"A-1234"}';
    const ev = (data: Record<string, unknown>): SseEvent => ({ event: String(data.type), data });
    reply = {
      kind: 'sse',
      events: [
        ev({
          type: 'message_start',
          message: {
            id: 'msg_s',
            type: 'message',
            role: 'assistant',
            model: 'claude-haiku-4-5',
            content: [],
            stop_reason: null,
            stop_sequence: null,
          },
        }),
        ev({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
        ev({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }),
        ev({ type: 'content_block_stop', index: 0 }),
        ev({
          type: 'content_block_start',
          index: 1,
          content_block: { type: 'tool_use', id: 'toolu_1', name: 'track', input: {} },
        }),
        ev({
          type: 'content_block_delta',
          index: 1,
          delta: { type: 'input_json_delta', partial_json: input },
        }),
        ev({ type: 'content_block_stop', index: 1 }),
        ev({ type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null } }),
        ev({ type: 'message_stop' }),
      ],
    };
    const body = { model: 'claude-haiku-4-5', max_tokens: 1000, messages: ask, stream: true as const };
    const c = instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }), {
      ...h.options(),
      limiter,
    });
    for await (const e of await c.messages.create(body)) void e;
    expect(await outputSettled(settled, body)).toBe(Math.ceil((text.length + input.length) / 4));
  });
});
