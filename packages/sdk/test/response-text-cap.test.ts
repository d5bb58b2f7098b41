import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ResponseSummary } from '../src/instrumentation/adapter.ts';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { MAX_KEPT_TEXT_CHARS, MAX_TELEMETRY_TEXT_CHARS } from '../src/instrumentation/kept-text.ts';
import type { OutputGuard } from '../src/instrumentation/types.ts';
import { spyOnSummaries, summaries } from './fixtures/call-summaries.ts';
import { anthropicMessage } from './fixtures/anthropic-reply.ts';
import { chatCompletion } from './fixtures/chat-reply.ts';
import { eventually, useInstrHarness, streamTextTruncations } from './fixtures/instr-harness.ts';
import { messageItem, responseBody } from './fixtures/responses-reply.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * A complete (not streamed) response's text, as the call's telemetry reads it: readResponse
 * joined its answer's texts (chat choices, legacy completions choices, Responses output_text
 * parts, Anthropic text blocks) whole, a copy of any length beside the body, where every stream
 * path keeps the telemetry's copy under the documented caps (kept-text.ts). Now the same caps:
 * without output guards the summary keeps 1 Mi characters (MAX_TELEMETRY_TEXT_CHARS), counts the
 * rest in `droppedChars` and the call counts `stream_text_truncated`; with output guards a
 * response whose answer is past 32 Mi characters (MAX_KEPT_TEXT_CHARS) is blocked
 * (OutputBlockedError, filter stream_limit, its output_filter_block event), as a guarded stream
 * past it is cut. The application gets the response as sent when it is not blocked. Real openai
 * and @anthropic-ai/sdk clients against the fake server; the answer is two texts (two choices,
 * two parts, two blocks) so the cut falls inside the second.
 */

const KI64 = 64 * 1024;

let body: unknown = {};

const h = useInstrHarness({
  script: (req: FakeRequest): FakeResponse | undefined =>
    req.path.endsWith('/v1/chat/completions') ||
    req.path.endsWith('/v1/completions') ||
    req.path.endsWith('/v1/responses') ||
    req.path.endsWith('/v1/messages')
      ? { kind: 'json', body }
      : undefined,
});

afterEach(() => {
  vi.restoreAllMocks();
});

type Client = 'chat' | 'completions' | 'responses' | 'anthropic';

const CHAT = { id: 'chatcmpl-cap', created: 1, model: 'gpt-4o' };
const ANTHROPIC = { id: 'msg_cap', model: 'claude-sonnet-4-5', usage: { input_tokens: 3, output_tokens: 5 } };

/** A complete response of `client`'s kind whose answer is the texts `a` and `b`. */
function bodyOf(client: Client, a: string, b: string): unknown {
  if (client === 'chat') {
    const one = chatCompletion(CHAT, { content: a }) as { choices: Array<Record<string, unknown>> };
    return {
      ...one,
      choices: [one.choices[0], { ...one.choices[0], index: 1, message: { role: 'assistant', content: b } }],
    };
  }
  if (client === 'completions')
    return {
      id: 'cmpl-cap',
      object: 'text_completion',
      created: 1,
      model: 'gpt-3.5-turbo-instruct',
      choices: [
        { index: 0, text: a, logprobs: null, finish_reason: 'stop' },
        { index: 1, text: b, logprobs: null, finish_reason: 'stop' },
      ],
    };
  if (client === 'responses')
    return responseBody('resp_cap', 'gpt-4o', 'completed', [
      messageItem(a, 'msg_1'),
      messageItem(b, 'msg_2'),
    ]);
  return anthropicMessage(ANTHROPIC, [
    { type: 'text', text: a },
    { type: 'text', text: b },
  ]);
}

/** Chat and legacy completions join their choices with a line break (readResponse). */
const sepOf = (client: Client) => (client === 'chat' || client === 'completions' ? 1 : 0);

/** The answer's characters the application got, all clients' shapes. */
function answerChars(r: Record<string, any>): number {
  let n = 0;
  for (const c of r.choices ?? []) n += (c.message?.content ?? c.text ?? '').length;
  for (const o of r.output ?? []) for (const p of o.content ?? []) n += (p.text ?? '').length;
  if (r.type === 'message') for (const b of r.content ?? []) n += (b.text ?? '').length;
  return n;
}

/** A call of `client` through an instrumented real client; the response (or the error) and the call's summary. */
async function call(client: Client, options: Record<string, unknown> = {}) {
  spyOnSummaries();
  const opts = { ...h.options(), ...options };
  let got: Record<string, any> | undefined;
  let err: unknown;
  // A request may go out on a kept-alive connection the fake server is closing (its 5 s idle
  // timeout runs from the end of its write, while this process still read and checked a 32 Mi
  // body, slowly on a loaded host): 'Connection error'. The client retries that, as in production.
  const maxRetries = 2;
  try {
    if (client === 'anthropic') {
      const c = instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries }), opts);
      got = (await c.messages.create({
        model: ANTHROPIC.model,
        max_tokens: 10,
        messages: [{ role: 'user', content: 'x' }],
      })) as unknown as Record<string, any>;
    } else {
      const c = instrumentClient(
        new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries }),
        opts,
      );
      got = (client === 'chat'
        ? await c.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] })
        : client === 'completions'
          ? await c.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'x' })
          : await c.responses.create({ model: 'gpt-4o', input: 'x' })) as unknown as Record<string, any>;
    }
  } catch (e) {
    err = e;
  }
  // A bound on a hang, not a measure: the span ends and the event is recorded after the read.
  await eventually(
    () =>
      (summaries.length > 0 || err !== undefined) &&
      h.recorded.some((e) => e.category === 'request_completed'),
    30_000,
  );
  return { got, err, summary: summaries[0] as ResponseSummary };
}

/** The stream_text_truncated count (llmsec.telemetry.errors). */
const truncations = (): Promise<number> => streamTextTruncations(h.reader);

const CLIENTS: Client[] = ['chat', 'completions', 'responses', 'anthropic'];

describe.each(CLIENTS)('an unguarded complete response: %s', (client) => {
  it('past the cap: returned whole, its telemetry copy stops at the cap, the rest counted', async () => {
    // 1 Mi + 0.5 Mi: the first text kept whole, the second cut at the cap.
    const a = 'a'.repeat(MAX_TELEMETRY_TEXT_CHARS - KI64);
    const b = 'b'.repeat(8 * KI64);
    body = bodyOf(client, a, b);
    const before = await truncations();
    const r = await call(client);
    expect(r.err).toBeUndefined();
    expect(answerChars(r.got!)).toBe(a.length + b.length);
    // Before: the whole 1.5 Mi joined, no droppedChars, nothing counted.
    const sep = sepOf(client) > 0 ? '\n' : '';
    // Compared as a flag and a length: a failure would print 1 Mi characters.
    expect(r.summary.text.length).toBe(MAX_TELEMETRY_TEXT_CHARS + sep.length);
    expect(r.summary.text === a + sep + b.slice(0, KI64)).toBe(true);
    expect(r.summary.droppedChars).toBe(7 * KI64);
    expect((await truncations()) - before).toBe(1);
  });

  it('up to the cap: everything kept, nothing counted, as before', async () => {
    const a = 'a'.repeat(MAX_TELEMETRY_TEXT_CHARS - KI64);
    const b = 'b'.repeat(KI64);
    body = bodyOf(client, a, b);
    const before = await truncations();
    const r = await call(client);
    expect(r.err).toBeUndefined();
    expect(r.summary.text.length).toBe(a.length + sepOf(client) + b.length);
    expect(r.summary.text === a + (sepOf(client) > 0 ? '\n' : '') + b).toBe(true);
    expect(r.summary.droppedChars).toBeUndefined();
    expect((await truncations()) - before).toBe(0);
  });
});

describe('the telemetry of an unguarded complete response past the cap', () => {
  it('the lease settles on every character of the answer, kept or not', async () => {
    const settled: number[] = [];
    const limiter = {
      acquire: async () => ({ allowed: true, retryAfterMs: 0, lease: {} }),
      settle: (_l: unknown, u: { tokens: number }) => void settled.push(u.tokens),
      cancel: () => undefined,
    };
    const a = 'a'.repeat(MAX_TELEMETRY_TEXT_CHARS);
    // No usage: the lease settles on the characters / 4 (lease.ts).
    body = chatCompletion(CHAT, { content: `${a}${'b'.repeat(KI64)}` });
    await call('chat', { limiter });
    h.reset();
    body = chatCompletion(CHAT, { content: a });
    await call('chat', { limiter });
    expect(settled).toHaveLength(2);
    expect(settled[0]! - settled[1]!).toBe(KI64 / 4);
  });
});

/** An output guard that passes everything: the call is guarded, nothing else changes. */
const pass: OutputGuard = { name: 'pass', layer: 'output', checkResponse: () => ({ action: 'allow' }) };

const GUARDED: Client[] = ['chat', 'responses', 'anthropic'];
const REASON = `stream_limit: more than ${MAX_KEPT_TEXT_CHARS} characters of text read`;

describe.each(GUARDED)('a guarded complete response: %s', (client) => {
  it('past 32 Mi characters of answer: blocked (stream_limit), as a guarded stream is cut', async () => {
    const half = MAX_KEPT_TEXT_CHARS / 2;
    body = bodyOf(client, 'a'.repeat(half), 'b'.repeat(half + 1));
    const r = await call(client, { guards: { output: [pass] } });
    // Before: returned whole, allowed.
    expect(r.err).toBeInstanceOf(OutputBlockedError);
    expect((r.err as OutputBlockedError).filter).toBe('stream_limit');
    expect((r.err as OutputBlockedError).reason).toBe(REASON);
    const completed = h.recorded.filter((e) => e.category === 'request_completed');
    expect(completed.map((e) => e.metadata?.outcome)).toEqual(['blocked']);
    const blocks = h.recorded.filter((e) => e.category === 'output_filter_block');
    expect(blocks.map((e) => e.metadata)).toMatchObject([
      { filter_name: 'stream_limit', block_reason: REASON },
    ]);
  });

  it('up to it: returned whole, allowed, as before', async () => {
    const half = MAX_KEPT_TEXT_CHARS / 2;
    body = bodyOf(client, 'a'.repeat(half), 'b'.repeat(half));
    const r = await call(client, { guards: { output: [pass] } });
    expect(r.err).toBeUndefined();
    expect(answerChars(r.got!)).toBe(MAX_KEPT_TEXT_CHARS);
    const completed = h.recorded.filter((e) => e.category === 'request_completed');
    expect(completed.map((e) => e.metadata?.outcome)).toEqual(['allowed']);
  });
});
