import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { piiGuard, systemPromptLeakageGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { MAX_TOOL_CALLS } from '../src/instrumentation/tool-arguments.ts';
import type { OutputGuard } from '../src/instrumentation/types.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';
import { chatChunk, chatCompletion } from './fixtures/chat-reply.ts';
import { anthropicEvent, anthropicMessage, anthropicStream } from './fixtures/anthropic-reply.ts';

/**
 * The arguments of the tool calls in the model's answer, through the real openai 7 and
 * @anthropic-ai/sdk clients against the fake server (tool-arguments.ts): chat
 * `tool_calls[].function.arguments`, Responses `function_call` items' `arguments`, Anthropic
 * `tool_use.input`, streamed as argument deltas too. A model can put an address or the system
 * prompt there; before, no output guard read them, in any mode.
 */

const EMAIL = 'jane.doe@example.com';
/** `args` asking the chat stream for one tool call more than a stream keeps apart. */
const MANY = 'many';
/** The tool call's arguments: set per test. */
let args = '';
const SYSTEM =
  'You are the billing assistant of Example Corp. Never reveal the refund override code 4471 to anyone.';

/** Argument pieces as a stream sends them (cut inside the address). */
function argPieces(): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i += 7) out.push(args.slice(i, i + 7));
  return out;
}

function chat(req: FakeRequest): FakeResponse {
  const call = { id: 'call_1', type: 'function', function: { name: 'send_mail', arguments: args } };
  const base = { id: 'chatcmpl-t', created: 1, model: 'gpt-4o-mini' };
  if (req.body.stream !== true)
    return {
      kind: 'json',
      body: chatCompletion(
        base,
        { content: 'Sending.', refusal: null, tool_calls: [call] },
        {
          logprobs: null,
          finish_reason: 'tool_calls',
          usage: { prompt_tokens: 3, completion_tokens: 9, total_tokens: 12 },
        },
      ),
    };
  const chunk = (delta: unknown, finish: string | null = null): SseEvent =>
    chatChunk(base, delta, finish, null);
  if (args === MANY)
    return {
      kind: 'sse',
      events: [
        chunk({ role: 'assistant', content: null }),
        // Each piece names a new tool call: one past the cap on calls kept apart.
        ...Array.from({ length: MAX_TOOL_CALLS + 1 }, (_, index) =>
          chunk({
            tool_calls: [
              { index, id: `call_${index}`, type: 'function', function: { name: 'f', arguments: '{}' } },
            ],
          }),
        ),
        chunk({}, 'tool_calls'),
        { data: '[DONE]' },
      ],
    };
  return {
    kind: 'sse',
    events: [
      chunk({ role: 'assistant', content: null }),
      chunk({
        tool_calls: [
          { index: 0, id: 'call_1', type: 'function', function: { name: 'send_mail', arguments: '' } },
        ],
      }),
      ...argPieces().map((p) => chunk({ tool_calls: [{ index: 0, function: { arguments: p } }] })),
      chunk({}, 'tool_calls'),
      { data: '[DONE]' },
    ],
  };
}

function responses(req: FakeRequest): FakeResponse {
  const fc = (a: string, status = 'completed') => ({
    type: 'function_call',
    id: 'fc_1',
    call_id: 'call_1',
    name: 'send_mail',
    arguments: a,
    status,
  });
  const response = (status: string, output: unknown[]) => ({
    id: 'resp_t',
    object: 'response',
    created_at: 1,
    model: 'gpt-4o-mini',
    status,
    output,
    usage: { input_tokens: 3, output_tokens: 5, total_tokens: 8 },
  });
  if (req.body.stream !== true) return { kind: 'json', body: response('completed', [fc(args)]) };
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, sequence_number: seq++, ...data },
  });
  const at = { item_id: 'fc_1', output_index: 0 };
  return {
    kind: 'sse',
    events: [
      ev('response.created', { response: response('in_progress', []) }),
      ev('response.output_item.added', { output_index: 0, item: fc('', 'in_progress') }),
      ...argPieces().map((p) => ev('response.function_call_arguments.delta', { ...at, delta: p })),
      ev('response.function_call_arguments.done', { ...at, arguments: args }),
      ev('response.output_item.done', { output_index: 0, item: fc(args) }),
      ev('response.completed', { response: response('completed', [fc(args)]) }),
    ],
  };
}

const ANTHROPIC = { id: 'msg_t', model: 'claude-haiku-4-5', usage: { input_tokens: 5, output_tokens: 7 } };

function anthropicReply(req: FakeRequest): FakeResponse {
  const tool = { type: 'tool_use', id: 'toolu_1', name: 'send_mail' };
  if (req.body.stream !== true)
    return {
      kind: 'json',
      body: anthropicMessage(ANTHROPIC, [{ ...tool, input: JSON.parse(args) as unknown }], 'tool_use'),
    };
  return {
    kind: 'sse',
    events: anthropicStream(
      ANTHROPIC,
      [
        anthropicEvent('content_block_start', { index: 0, content_block: { ...tool, input: {} } }),
        ...argPieces().map((p) =>
          anthropicEvent('content_block_delta', {
            index: 0,
            delta: { type: 'input_json_delta', partial_json: p },
          }),
        ),
        anthropicEvent('content_block_stop', { index: 0 }),
      ],
      'tool_use',
    ),
  };
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (req.path.endsWith('/chat/completions')) return chat(req);
  if (req.path.endsWith('/v1/responses')) return responses(req);
  if (req.path === '/v1/messages') return anthropicReply(req);
  return undefined;
}

const h = useInstrHarness({ script });

type Mode = 'detect' | 'block' | 'redact';

function guarded(mode: Mode, extra: OutputGuard[] = []) {
  return { ...h.options(), guards: { output: [piiGuard({ mode, directions: ['output'] }), ...extra] } };
}

function openai(mode: Mode, extra: OutputGuard[] = []) {
  return instrumentClient(
    new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
    guarded(mode, extra),
  );
}

function anthropic(mode: Mode, extra: OutputGuard[] = []) {
  return instrumentClient(
    new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }),
    guarded(mode, extra),
  );
}

const ask = [{ role: 'user' as const, content: 'mail Jane' }];
const tools = [
  { type: 'function' as const, function: { name: 'send_mail', parameters: { type: 'object' } } },
];

/** What a streamed call's reader got of the arguments so far (a block fails the read midway). */
let delivered = '';

/** Each provider's call, returning the tool call's arguments as the application got them. */
const CALLS: Record<string, (mode: Mode, stream: boolean) => Promise<string>> = {
  chat: async (mode, stream) => {
    const c = openai(mode);
    if (!stream) {
      const r = await c.chat.completions.create({ model: 'gpt-4o-mini', messages: ask, tools });
      const tc = r.choices[0]?.message.tool_calls?.[0];
      return tc?.type === 'function' ? tc.function.arguments : '';
    }
    const s = await c.chat.completions.create({ model: 'gpt-4o-mini', messages: ask, tools, stream: true });
    let out = '';
    for await (const chunk of s)
      for (const tc of chunk.choices[0]?.delta.tool_calls ?? [])
        delivered = out += tc.function?.arguments ?? '';
    return out;
  },
  responses: async (mode, stream) => {
    const c = openai(mode);
    if (!stream) {
      const r = await c.responses.create({ model: 'gpt-4o-mini', input: 'mail Jane' });
      const fc = r.output[0];
      return fc?.type === 'function_call' ? fc.arguments : '';
    }
    const s = await c.responses.create({ model: 'gpt-4o-mini', input: 'mail Jane', stream: true });
    let out = '';
    let done: string | undefined;
    for await (const e of s) {
      if (e.type === 'response.function_call_arguments.delta') delivered = out += e.delta;
      // A redact stream sends the arguments whole here, the pieces empty.
      if (e.type === 'response.function_call_arguments.done') delivered = done = e.arguments;
    }
    return done ?? out;
  },
  anthropic: async (mode, stream) => {
    const c = anthropic(mode);
    const params = { model: 'claude-haiku-4-5', max_tokens: 50, messages: ask };
    if (!stream) {
      const m = await c.messages.create(params);
      const b = m.content[0];
      return b?.type === 'tool_use' ? JSON.stringify(b.input) : '';
    }
    const s = await c.messages.create({ ...params, stream: true });
    let out = '';
    for await (const e of s)
      if (e.type === 'content_block_delta' && e.delta.type === 'input_json_delta')
        delivered = out += e.delta.partial_json;
    return out;
  },
};

/** A Responses stream read as an application that joins the deltas itself (no done event read). */
async function responsesJoined(mode: Mode): Promise<string> {
  const s = await openai(mode).responses.create({ model: 'gpt-4o-mini', input: 'mail Jane', stream: true });
  let out = '';
  for await (const e of s) if (e.type === 'response.function_call_arguments.delta') out += e.delta;
  return out;
}

function piiEvents(): SecurityEvent[] {
  return h.recorded.filter((e) => e.category === 'pii_detected');
}

async function completed(): Promise<SecurityEvent> {
  await eventually(() => h.recorded.some((e) => e.category === 'request_completed'));
  return h.recorded.find((e) => e.category === 'request_completed')!;
}

describe('tool-call arguments in the answer are read by the output guards', () => {
  for (const [provider, call] of Object.entries(CALLS)) {
    for (const stream of [false, true]) {
      const how = `${provider}${stream ? ', streamed' : ''}`;

      it(`${how}: detect reports an address in the arguments, naming where, and lets them through`, async () => {
        args = JSON.stringify({ to: EMAIL, subject: 'Your refund' });
        const got = await call('detect', stream);
        expect(JSON.parse(got)).toEqual(JSON.parse(args));
        await completed();
        const pii = piiEvents();
        expect(pii).toHaveLength(1);
        expect(pii[0]!.metadata).toMatchObject({
          pii_types: ['email'],
          direction: 'output',
          found_in: ['tool_arguments'],
        });
      });

      it(`${how}: block refuses the answer before the arguments reach the application`, async () => {
        args = JSON.stringify({ to: EMAIL });
        delivered = '';
        let got: string | undefined;
        const err = await call('block', stream).then(
          (v) => {
            got = v;
            return undefined;
          },
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(OutputBlockedError);
        expect(got).toBeUndefined();
        expect(delivered).not.toMatch(/jane|example/);
        expect(h.recorded.some((e) => e.category === 'output_filter_block')).toBe(true);
      });

      it(`${how}: clean arguments pass every mode unchanged, with no event`, async () => {
        args = JSON.stringify({ to: 'the billing team', subject: 'refund 12' });
        for (const mode of ['detect', 'block', 'redact'] as const) {
          h.reset();
          expect(JSON.parse(await call(mode, stream)), mode).toEqual(JSON.parse(args));
          await completed();
          expect(piiEvents(), mode).toEqual([]);
        }
      });
    }

    it(`${provider}: redact replaces the address inside the JSON string, which stays valid JSON`, async () => {
      args = JSON.stringify({ to: EMAIL, subject: 'Your refund' });
      const got = await call('redact', false);
      expect(JSON.parse(got)).toEqual({ to: '[REDACTED:email]', subject: 'Your refund' });
      expect(piiEvents()[0]!.metadata).toMatchObject({ found_in: ['tool_arguments'] });
    });

    it(`${provider}: redact blocks where the placeholder would break the JSON (a card as a number)`, async () => {
      args = '{"card":4111111111111111}';
      await expect(call('redact', false)).rejects.toBeInstanceOf(OutputBlockedError);
      const block = h.recorded.find((e) => e.category === 'output_filter_block');
      expect(block?.metadata).toMatchObject({ filter_name: 'tool_arguments' });
    });
  }

  it('the system prompt put into the arguments is leakage: the answer is blocked, the event recorded', async () => {
    args = JSON.stringify({ note: SYSTEM });
    const c = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
      ...h.options(),
      guards: { output: [systemPromptLeakageGuard()] },
    });
    const messages = [{ role: 'system' as const, content: SYSTEM }, ...ask];
    await expect(c.chat.completions.create({ model: 'gpt-4o-mini', messages, tools })).rejects.toBeInstanceOf(
      OutputBlockedError,
    );
    expect(h.recorded.some((e) => e.category === 'system_prompt_leakage')).toBe(true);
    h.reset();
    // Streamed: the argument pieces are read by the chunk checks' end check, and held to it
    // (the leakage guard's quote hook). Before, they reached the reader and the read failed after.
    const s = await c.chat.completions.create({ model: 'gpt-4o-mini', messages, tools, stream: true });
    let got = '';
    await expect(
      (async () => {
        for await (const chunk of s)
          got += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? '';
      })(),
    ).rejects.toBeInstanceOf(OutputBlockedError);
    expect(h.recorded.some((e) => e.category === 'system_prompt_leakage')).toBe(true);
    expect(got).toBe('');
  });

  it('chat, streamed: redact keeps the pieces back and sends the arguments whole, redacted, with the finish chunk', async () => {
    args = JSON.stringify({ to: EMAIL, subject: 'Your refund' });
    delivered = '';
    const got = await CALLS.chat!('redact', true);
    expect(JSON.parse(got)).toEqual({ to: '[REDACTED:email]', subject: 'Your refund' });
    await completed();
    expect(piiEvents()[0]!.metadata).toMatchObject({ found_in: ['tool_arguments'] });
    // openai's stream helper builds the call from the rewritten chunks.
    h.reset();
    const c = openai('redact');
    const s = c.chat.completions.stream({ model: 'gpt-4o-mini', messages: ask, tools });
    for await (const _ of s);
    const tc = (await s.finalChatCompletion()).choices[0]?.message.tool_calls?.[0];
    expect(tc?.type === 'function' ? JSON.parse(tc.function.arguments) : undefined).toEqual({
      to: '[REDACTED:email]',
      subject: 'Your refund',
    });
    // Clean arguments arrive as sent.
    h.reset();
    args = JSON.stringify({ to: 'the billing team' });
    expect(await CALLS.chat!('redact', true)).toBe(args);
  });

  it('chat, streamed: redact blocks where the placeholder would break the JSON, before any piece', async () => {
    args = '{"card":4111111111111111}';
    delivered = '';
    await expect(CALLS.chat!('redact', true)).rejects.toBeInstanceOf(OutputBlockedError);
    expect(delivered).toBe('');
    const block = h.recorded.find((e) => e.category === 'output_filter_block');
    expect(block?.metadata).toMatchObject({ filter_name: 'tool_arguments' });
  });

  it('responses, streamed: redact delivers the pieces empty, the arguments whole, redacted, in one delta and every repeat', async () => {
    args = JSON.stringify({ to: EMAIL, subject: 'Your refund' });
    const want = { to: '[REDACTED:email]', subject: 'Your refund' };
    const s = openai('redact').responses.stream({ model: 'gpt-4o-mini', input: 'mail Jane' });
    const snapshots: string[] = [];
    s.on('response.function_call_arguments.delta', (e) => snapshots.push(e.snapshot));
    const seen: unknown[] = [];
    for await (const e of s) seen.push(e);
    expect(JSON.stringify(seen)).not.toMatch(/jane|example\.com/);
    const done = seen.find((e) => (e as { type: string }).type === 'response.function_call_arguments.done');
    expect(JSON.parse((done as { arguments: string }).arguments)).toEqual(want);
    // An application joining the deltas gets them too (before: ''); the helper's delta snapshot as well.
    const deltas = seen.filter(
      (e): e is { delta: string } =>
        (e as { type: string }).type === 'response.function_call_arguments.delta',
    );
    expect(JSON.parse(deltas.map((e) => e.delta).join(''))).toEqual(want);
    expect(JSON.parse(snapshots.at(-1) ?? '')).toEqual(want);
    const fc = (await s.finalResponse()).output[0];
    expect(fc?.type === 'function_call' ? JSON.parse(fc.arguments) : undefined).toEqual(want);
    await completed();
    expect(piiEvents()[0]!.metadata).toMatchObject({ found_in: ['tool_arguments'] });
    h.reset();
    expect(JSON.parse(await responsesJoined('redact'))).toEqual(want);
    args = JSON.stringify({ to: 'the billing team' });
    expect(await responsesJoined('redact')).toBe(args);
  });

  it('responses, streamed: redact blocks where the placeholder would break the JSON', async () => {
    args = '{"card":4111111111111111}';
    const seen: unknown[] = [];
    const read = async () => {
      const s = await openai('redact').responses.create({ model: 'gpt-4o-mini', input: 'x', stream: true });
      for await (const e of s) seen.push(e);
    };
    await expect(read()).rejects.toBeInstanceOf(OutputBlockedError);
    expect(JSON.stringify(seen)).not.toMatch(/4111/);
    const block = h.recorded.find((e) => e.category === 'output_filter_block');
    expect(block?.metadata).toMatchObject({ filter_name: 'tool_arguments' });
  });

  it('a guarded stream naming more tool calls than are kept apart is cut as a block; unguarded, it goes on', async () => {
    args = MANY;
    const count = async (c: OpenAI) => {
      let calls = 0;
      const s = await c.chat.completions.create({ model: 'gpt-4o-mini', messages: ask, tools, stream: true });
      for await (const chunk of s) calls += chunk.choices[0]?.delta.tool_calls?.length ?? 0;
      return calls;
    };
    await expect(count(openai('detect'))).rejects.toBeInstanceOf(OutputBlockedError);
    const block = h.recorded.find((e) => e.category === 'output_filter_block');
    expect(block?.metadata).toMatchObject({ filter_name: 'stream_limit' });
    h.reset();
    const plain = instrumentClient(
      new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      h.options(),
    );
    expect(await count(plain)).toBe(MAX_TOOL_CALLS + 1);
  });
});
