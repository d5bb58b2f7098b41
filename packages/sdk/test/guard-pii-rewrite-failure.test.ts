import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import OpenAI6 from 'openai-v6';
import { afterEach, describe, expect, it } from 'vitest';
import { setTelemetryErrorCounter } from '../src/errors.ts';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { STREAM_REWRITER, type StreamRewriter } from '../src/instrumentation/stream-rewriter.ts';
import { WITHHELD } from '../src/instrumentation/output-texts.ts';
import type { OutputGuard } from '../src/instrumentation/types.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';
import { chatChunk, chatCompletion } from './fixtures/chat-reply.ts';

/**
 * piiGuard redact whose rewrite throws, through the real openai 7 / 6 and @anthropic-ai/sdk
 * clients against the fake server. The stream observer delivered an item whose rewrite threw as
 * the provider sent it, so the address the guard was holding back reached the reader whole; a
 * complete response whose rewrite threw was returned raw. Now the text it could not rewrite is
 * withheld (WITHHELD in its place, the later items' text too), the failure is reported once,
 * and nothing is thrown into the app.
 */

const BODY = ['Write to jane.do', 'e@example.com', ' today', ' please.'];
const leaks = (v: unknown) => /jane|e@example|example\.com/.test(JSON.stringify(v));

/** An answer whose address is its end: held until the stream ends, released by the rewriter's end. */
const TAIL = ['Write to ', 'jane.doe@exam', 'ple.com'];

function script(req: FakeRequest): FakeResponse | undefined {
  const PIECES = JSON.stringify(req.body).includes('tail') ? TAIL : BODY;
  if (req.path.endsWith('/chat/completions')) {
    const base = { id: 'chatcmpl-f', created: 1, model: 'gpt-4o-mini' };
    if (req.body.stream !== true)
      return {
        kind: 'json',
        body: chatCompletion(base, { content: PIECES.join(''), refusal: null }),
      };
    const chunk = (delta: unknown, finish: string | null = null) => chatChunk(base, delta, finish);
    return {
      kind: 'sse',
      events: [...PIECES.map((t) => chunk({ content: t })), chunk({}, 'stop'), { data: '[DONE]' }],
    };
  }
  if (req.path === '/v1/messages' && req.body.stream === true) {
    const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
      event: type,
      data: { type, ...data },
    });
    const message = {
      id: 'msg_f',
      type: 'message',
      role: 'assistant',
      model: 'claude-haiku-4-5',
      content: [],
    };
    return {
      kind: 'sse',
      events: [
        ev('message_start', {
          message: { ...message, stop_reason: null, usage: { input_tokens: 1, output_tokens: 1 } },
        }),
        ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
        ...PIECES.map((text) => ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text } })),
        ev('content_block_stop', { index: 0 }),
        ev('message_delta', {
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { output_tokens: 4 },
        }),
        ev('message_stop', {}),
      ],
    };
  }
  return undefined;
}

const h = useInstrHarness({ script });
const reported: string[] = [];
afterEach(() => setTelemetryErrorCounter(undefined));

/** piiGuard redact whose rewrite throws: `next` from its `nextFrom`th call, `whole` always; `end` when `endThrows`. */
function failing(nextFrom: number, endThrows = false): OutputGuard {
  const g = piiGuard({ directions: ['output'] });
  const inner = (g as unknown as { [STREAM_REWRITER]: StreamRewriter })[STREAM_REWRITER];
  let calls = 0;
  const broken: StreamRewriter = {
    next: (ctx, text, lane) => {
      if (++calls >= nextFrom) throw new RangeError('rewrite failed');
      return inner.next(ctx, text, lane);
    },
    end: (ctx) => {
      if (endThrows) throw new RangeError('end failed');
      inner.end(ctx);
    },
    whole: () => {
      throw new RangeError('rewrite failed');
    },
  };
  (g as unknown as { [STREAM_REWRITER]: StreamRewriter })[STREAM_REWRITER] = broken;
  return g;
}

function options(guard: OutputGuard) {
  reported.length = 0;
  setTelemetryErrorCounter({ recordTelemetryError: (component) => reported.push(component) });
  return { ...h.options(), guards: { output: [guard] } };
}

/** Each client with its own failing guard (the call count is the guard's). */
function openais(guard: () => OutputGuard) {
  const opts = { apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 };
  return [
    ['openai 7', instrumentClient(new OpenAI(opts), options(guard()))],
    ['openai 6', instrumentClient(new OpenAI6(opts) as unknown as OpenAI, options(guard()))],
  ] as const;
}

const ask = [{ role: 'user' as const, content: 'hi' }];

describe('a stream rewrite that throws withholds the text, never the raw item', () => {
  it('chat, streamed: the item whose rewrite threw and the later ones carry no piece of the address', async () => {
    for (const [name, c] of openais(() => failing(1))) {
      reported.length = 0;
      const s = await c.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: ask });
      const chunks = [];
      for await (const x of s) chunks.push(x);
      expect(leaks(chunks), name).toBe(false);
      expect(chunks.map((x) => x.choices[0]?.delta.content ?? '').join(''), name).toBe(WITHHELD);
      expect(reported, name).toEqual(['guard']);
    }
  });

  it('Anthropic, streamed: the final message too', async () => {
    const c = instrumentClient(
      new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }),
      options(failing(1)),
    );
    const s = c.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 50, messages: ask });
    const events = [];
    for await (const e of s) events.push(e);
    const final = await s.finalMessage();
    expect(leaks(events)).toBe(false);
    expect(leaks(final)).toBe(false);
    expect(final.content.map((b) => (b.type === 'text' ? b.text : b.type))).toEqual([WITHHELD]);
    expect(reported).toEqual(['guard']);
  });

  it('a failure after the clean start: what was delivered stays, the rest is withheld', async () => {
    // The first next() delivers the first chunk, the address's placeholder in it (it starts
    // there); the second fails: its chunk and the later ones are withheld.
    for (const [name, c] of openais(() => failing(2))) {
      reported.length = 0;
      const s = await c.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: ask });
      const chunks = [];
      for await (const x of s) chunks.push(x);
      expect(leaks(chunks), name).toBe(false);
      expect(
        chunks.map((x) => x.choices[0]?.delta.content ?? ''),
        name,
      ).toEqual(['Write to [REDACTED:email]', WITHHELD, '', '', '']);
      expect(reported, name).toEqual(['guard']);
    }
  });
});

describe("a stream rewriter's end that throws", () => {
  // piiGuard's rewrite redacts what it held when it is next asked for it, ended or not: an end
  // that fails still delivers the held address redacted (checked: no withholding needed).
  it('the text it held (an address at the end) still reaches the reader redacted, not raw', async () => {
    for (const [name, c] of openais(() => failing(Number.POSITIVE_INFINITY, true))) {
      reported.length = 0;
      const s = await c.chat.completions.create({
        model: 'gpt-4o-mini',
        stream: true,
        messages: [{ role: 'user', content: 'tail' }],
      });
      const chunks = [];
      for await (const x of s) chunks.push(x);
      expect(leaks(chunks), name).toBe(false);
      expect(chunks.map((x) => x.choices[0]?.delta.content ?? '').join(''), name).toBe(
        'Write to [REDACTED:email]',
      );
      expect(reported, name).toEqual(['guard']);
    }
  });
});

describe('a complete-response rewrite that throws withholds the text', () => {
  it('chat, not streamed: the choice is WITHHELD, reported once, nothing thrown', async () => {
    for (const [name, c] of openais(() => failing(1))) {
      reported.length = 0;
      const r = await c.chat.completions.create({ model: 'gpt-4o-mini', messages: ask });
      expect(leaks(r), name).toBe(false);
      expect(r.choices[0]!.message.content, name).toBe(WITHHELD);
      expect(reported, name).toEqual(['guard']);
    }
  });
});
