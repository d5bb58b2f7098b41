import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';
import { chatCompletion } from './fixtures/chat-reply.ts';

/**
 * piiGuard redact rewrote the answer's text, but OpenAI repeats that text token by token in
 * `logprobs` (chat, legacy completions, Responses; streamed chunks too), and an Anthropic
 * stream's `citations_delta` quotes the source of the text: an application that asked for
 * logprobs, or read citations, got the redacted email back. Through the real openai and
 * @anthropic-ai/sdk clients against the fake server: a choice / chunk / part whose text the
 * guard changed has no logprobs (null, or [] where the type is a list: logprobs.ts); a quote is
 * redacted as its own text (stream-item-rewrite.ts). Text the guard left alone keeps them.
 */

const EMAIL = 'jane.doe@example.com';
/** Tokens of the answer, the email across four of them (a finding spans tokens). */
const TOKENS = ['Write to ', 'jane', '.doe@', 'example', '.com', ' today.'];
const CLEAN = ['Hello ', 'there', ', friend.'];

function tokens(pieces: string[]) {
  return pieces.map((t) => ({
    token: t,
    logprob: -0.5,
    bytes: [...Buffer.from(t)],
    top_logprobs: [{ token: t, logprob: -0.5, bytes: [...Buffer.from(t)] }],
  }));
}

function legacyLogprobs(pieces: string[]) {
  let at = 0;
  return {
    tokens: pieces,
    token_logprobs: pieces.map(() => -0.5),
    top_logprobs: pieces.map((t) => ({ [t]: -0.5 })),
    text_offset: pieces.map((t) => (at += t.length) - t.length),
  };
}

const sse = (events: SseEvent[]): FakeResponse => ({ kind: 'sse', events: [...events, { data: '[DONE]' }] });

function chat(req: FakeRequest, pieces: string[]): FakeResponse {
  const base = { id: 'chatcmpl-lp', created: 1, model: 'gpt-4o-mini' };
  if (req.body.stream !== true)
    return {
      kind: 'json',
      body: chatCompletion(
        base,
        { content: pieces.join(''), refusal: null },
        {
          logprobs: { content: tokens(pieces), refusal: null },
          usage: { prompt_tokens: 3, completion_tokens: pieces.length, total_tokens: 3 + pieces.length },
        },
      ),
    };
  const chunk = (choice: unknown) => ({
    data: { ...base, object: 'chat.completion.chunk', choices: [choice] },
  });
  return sse([
    chunk({ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }),
    ...pieces.map((t) =>
      chunk({
        index: 0,
        delta: { content: t },
        logprobs: { content: tokens([t]), refusal: null },
        finish_reason: null,
      }),
    ),
    chunk({ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }),
  ]);
}

function completions(req: FakeRequest, pieces: string[]): FakeResponse {
  const base = { id: 'cmpl-lp', object: 'text_completion', created: 1, model: 'gpt-3.5-turbo-instruct' };
  if (req.body.stream !== true)
    return {
      kind: 'json',
      body: {
        ...base,
        choices: [
          { index: 0, text: pieces.join(''), logprobs: legacyLogprobs(pieces), finish_reason: 'stop' },
        ],
      },
    };
  return sse([
    ...pieces.map((t) => ({
      data: { ...base, choices: [{ index: 0, text: t, logprobs: legacyLogprobs([t]), finish_reason: null }] },
    })),
    { data: { ...base, choices: [{ index: 0, text: '', logprobs: null, finish_reason: 'stop' }] } },
  ]);
}

function responses(req: FakeRequest, pieces: string[]): FakeResponse {
  const lp = (ps: string[]) => tokens(ps);
  const part = (text: string, ps: string[]) => ({
    type: 'output_text',
    text,
    annotations: [],
    logprobs: lp(ps),
  });
  const item = (status: string, content: unknown[]) => ({
    id: 'msg_lp',
    type: 'message',
    role: 'assistant',
    status,
    content,
  });
  const response = (status: string, output: unknown[]) => ({
    id: 'resp_lp',
    object: 'response',
    created_at: 1,
    model: 'gpt-4o-mini',
    status,
    output,
    usage: { input_tokens: 3, output_tokens: pieces.length, total_tokens: 3 + pieces.length },
  });
  const whole = pieces.join('');
  if (req.body.stream !== true)
    return { kind: 'json', body: response('completed', [item('completed', [part(whole, pieces)])]) };
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, ...data },
  });
  const at = { item_id: 'msg_lp', output_index: 0, content_index: 0 };
  return {
    kind: 'sse',
    events: [
      ev('response.created', { response: response('in_progress', []), sequence_number: 0 }),
      ev('response.output_item.added', {
        output_index: 0,
        item: item('in_progress', []),
        sequence_number: 1,
      }),
      ev('response.content_part.added', { ...at, part: part('', []), sequence_number: 2 }),
      ...pieces.map((t, i) =>
        ev('response.output_text.delta', { ...at, delta: t, logprobs: lp([t]), sequence_number: 3 + i }),
      ),
      ev('response.output_text.done', { ...at, text: whole, logprobs: lp(pieces), sequence_number: 50 }),
      ev('response.content_part.done', { ...at, part: part(whole, pieces), sequence_number: 51 }),
      ev('response.output_item.done', {
        output_index: 0,
        item: item('completed', [part(whole, pieces)]),
        sequence_number: 52,
      }),
      ev('response.completed', {
        response: response('completed', [item('completed', [part(whole, pieces)])]),
        sequence_number: 53,
      }),
    ],
  };
}

const CITATION = {
  type: 'char_location',
  cited_text: `Contact: ${EMAIL}`,
  document_index: 0,
  document_title: 'Staff list',
  start_char_index: 0,
  end_char_index: 29,
};

function anthropicStream(): FakeResponse {
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, ...data },
  });
  return {
    kind: 'sse',
    events: [
      ev('message_start', {
        message: {
          id: 'msg_cite',
          type: 'message',
          role: 'assistant',
          model: 'claude-haiku-4-5',
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 3, output_tokens: 1 },
        },
      }),
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: '', citations: [] } }),
      // The API sends a block's citation before its text.
      ev('content_block_delta', { index: 0, delta: { type: 'citations_delta', citation: CITATION } }),
      ...TOKENS.map((t) => ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: t } })),
      ev('content_block_stop', { index: 0 }),
      ev('message_delta', {
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: 9 },
      }),
      ev('message_stop', {}),
    ],
  };
}

function script(req: FakeRequest): FakeResponse | undefined {
  const pieces = JSON.stringify(req.body).includes('clean') ? CLEAN : TOKENS;
  if (req.path.endsWith('/chat/completions')) return chat(req, pieces);
  if (req.path.endsWith('/v1/completions')) return completions(req, pieces);
  if (req.path.endsWith('/v1/responses')) return responses(req, pieces);
  if (req.path.endsWith('/v1/messages') && req.body.stream === true) return anthropicStream();
  return undefined;
}

const h = useInstrHarness({ script });

function clients() {
  const options = { ...h.options(), guards: { output: [piiGuard({ directions: ['output'] })] } };
  return {
    openai: instrumentClient(
      new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      options,
    ),
    anthropic: instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }), options),
  };
}

/** What the application can read, as JSON: the email's pieces must be in none of it. */
function leaks(value: unknown): boolean {
  const s = JSON.stringify(value);
  return s.includes('jane') || s.includes('.doe@') || s.includes('example');
}

const ask = (prompt: string) => [{ role: 'user' as const, content: prompt }];

describe('logprobs of text piiGuard redacted', () => {
  it('chat, not streamed: the choice keeps no logprobs (null); a clean answer keeps them', async () => {
    const { openai } = clients();
    const r = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      logprobs: true,
      messages: ask('hi'),
    });
    expect(r.choices[0]!.message.content).toBe('Write to [REDACTED:email] today.');
    expect(r.choices[0]!.logprobs).toBeNull();
    expect(leaks(r)).toBe(false);
    const clean = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      logprobs: true,
      messages: ask('clean'),
    });
    expect(clean.choices[0]!.logprobs?.content?.map((t) => t.token)).toEqual(CLEAN);
  });

  it('chat, streamed: chunks whose text was rewritten carry no logprobs; the others keep theirs', async () => {
    const { openai } = clients();
    const s = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      logprobs: true,
      stream: true,
      messages: ask('hi'),
    });
    const chunks = [];
    for await (const c of s) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(
      'Write to [REDACTED:email] today.',
    );
    expect(leaks(chunks)).toBe(false);
    const kept = chunks.flatMap((c) => c.choices[0]?.logprobs?.content?.map((t) => t.token) ?? []);
    expect(kept).toEqual(['Write to ', ' today.']);
  });

  it("chat.completions.stream()'s final completion keeps only the tokens of unchanged text", async () => {
    const { openai } = clients();
    const s = openai.chat.completions.stream({ model: 'gpt-4o-mini', logprobs: true, messages: ask('hi') });
    const done = await s.finalChatCompletion();
    expect(done.choices[0]!.message.content).toBe('Write to [REDACTED:email] today.');
    expect(leaks(done)).toBe(false);
    expect(done.choices[0]!.logprobs?.content?.map((t) => t.token)).toEqual(['Write to ', ' today.']);
  });

  it('legacy completions, not streamed and streamed', async () => {
    const { openai } = clients();
    const r = await openai.completions.create({ model: 'gpt-3.5-turbo-instruct', logprobs: 1, prompt: 'hi' });
    expect(r.choices[0]!.text).toBe('Write to [REDACTED:email] today.');
    expect(r.choices[0]!.logprobs).toBeNull();
    expect(leaks(r)).toBe(false);
    const clean = await openai.completions.create({
      model: 'gpt-3.5-turbo-instruct',
      logprobs: 1,
      prompt: 'clean',
    });
    expect(clean.choices[0]!.logprobs?.tokens).toEqual(CLEAN);

    const s = await openai.completions.create({
      model: 'gpt-3.5-turbo-instruct',
      logprobs: 1,
      stream: true,
      prompt: 'hi',
    });
    const chunks = [];
    for await (const c of s) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.text ?? '').join('')).toBe('Write to [REDACTED:email] today.');
    expect(leaks(chunks)).toBe(false);
    expect(chunks.flatMap((c) => c.choices[0]?.logprobs?.tokens ?? [])).toEqual(['Write to ', ' today.']);
  });

  it('Responses, not streamed and streamed: rewritten output_text parts and text events have logprobs []', async () => {
    const { openai } = clients();
    const include = ['message.output_text.logprobs' as const];
    const r = await openai.responses.create({ model: 'gpt-4o-mini', include, input: 'hi' });
    expect(r.output_text).toBe('Write to [REDACTED:email] today.');
    expect(leaks(r)).toBe(false);
    const clean = await openai.responses.create({ model: 'gpt-4o-mini', include, input: 'clean' });
    const part = clean.output[0]?.type === 'message' ? clean.output[0].content[0] : undefined;
    expect(part?.type === 'output_text' ? part.logprobs?.map((t) => t.token) : undefined).toEqual(CLEAN);

    const s = await openai.responses.create({ model: 'gpt-4o-mini', include, stream: true, input: 'hi' });
    const events = [];
    let text = '';
    for await (const e of s) {
      events.push(e);
      if (e.type === 'response.output_text.delta') text += e.delta;
    }
    expect(text).toBe('Write to [REDACTED:email] today.');
    expect(leaks(events)).toBe(false);
  });
});

describe('an Anthropic stream citation of text piiGuard redacted', () => {
  it("citations_delta's quote is redacted; the text too; the final message's citation as well", async () => {
    const { anthropic } = clients();
    const s = anthropic.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 100, messages: ask('hi') });
    const events = [];
    for await (const e of s) events.push(e);
    const final = await s.finalMessage();
    expect(leaks(events)).toBe(false);
    expect(leaks(final)).toBe(false);
    const block = final.content[0];
    expect(block?.type === 'text' ? block.text : undefined).toBe('Write to [REDACTED:email] today.');
    expect(block?.type === 'text' ? block.citations : undefined).toEqual([
      { ...CITATION, cited_text: 'Contact: [REDACTED:email]' },
    ]);
  });
});
