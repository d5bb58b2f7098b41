import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { redactPreview } from '@llmsec/core';
import type { ResponseSummary } from '../src/instrumentation/adapter.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { MAX_TELEMETRY_TEXT_CHARS } from '../src/instrumentation/kept-text.ts';
import { spyOnSummaries, summaries } from './fixtures/call-summaries.ts';
import { anthropicEvent, anthropicStream, textBlockEvents } from './fixtures/anthropic-reply.ts';
import { chatChunk } from './fixtures/chat-reply.ts';
import { eventually, sseScript, useInstrHarness, streamTextTruncations } from './fixtures/instr-harness.ts';
import { outputTextEvents, responseBody, responseEvents } from './fixtures/responses-reply.ts';
import type { SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * A stream without output guards is never cut (the application asked for no guard), but its
 * accumulator kept a copy of every text for the telemetry: the answer, each choice, refusals,
 * tool arguments, reasoning, quotes (chat, legacy completions, Responses, Anthropic). Before,
 * that copy grew with the stream. Now it stops at MAX_TELEMETRY_TEXT_CHARS (1 Mi): the summary
 * the call's telemetry reads holds at most that, `droppedChars` counts the output text left out
 * (the lease's estimate adds it), and the call counts
 * `llmsec.telemetry.errors{component="instrumentation", error_type="stream_text_truncated"}`.
 * A stream under the cap keeps everything, as before. Real openai and @anthropic-ai/sdk clients
 * against the fake server; pieces of 64 Ki characters, 24 of them (1.5 Mi) pass the cap, 16
 * fill it.
 *
 * What the accumulator kept is read where the call's telemetry reads it: the summary handed to
 * LlmCall.complete / abandon (its texts are the accumulator's), through a spy.
 */

const KI64 = 64 * 1024;
const PIECE = 'a'.repeat(KI64);
const OVER = 24;
const FILL = MAX_TELEMETRY_TEXT_CHARS / KI64;

let events: SseEvent[] = [];

const h = useInstrHarness({ script: sseScript(() => events) });

afterEach(() => {
  vi.restoreAllMocks();
});

/** Characters of text the summary holds (the choices' join counted once, as `text`). */
function keptChars(s: ResponseSummary): number {
  let n = s.text.length;
  for (const list of [s.side, s.toolArguments, s.reasoning]) for (const t of list ?? []) n += t.length;
  return n;
}

// --- the scripted streams ---

const CHAT = { id: 'chatcmpl-tel', created: 1, model: 'gpt-4o' };

/** A chat stream whose chunks carry `delta(i)`, `n` of them. */
function chatStream(n: number, delta: (i: number) => unknown): SseEvent[] {
  const out: SseEvent[] = [chatChunk(CHAT, { role: 'assistant', content: '' })];
  for (let i = 0; i < n; i++) out.push(chatChunk(CHAT, delta(i)));
  out.push(chatChunk(CHAT, {}, 'stop'), { data: '[DONE]' });
  return out;
}

const call = (args: string) => ({
  tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: args } }],
});

const quote = { type: 'url_citation', url_citation: { title: PIECE, start_index: 0, end_index: 0 } };

/** A chat stream of two choices, each `n` pieces, interleaved. */
function chatChoices(n: number): SseEvent[] {
  const out: SseEvent[] = [];
  for (let i = 0; i < n; i++)
    for (const index of [0, 1])
      out.push({
        data: {
          ...CHAT,
          object: 'chat.completion.chunk',
          choices: [{ index, delta: { content: PIECE }, finish_reason: null }],
        },
      });
  out.push(chatChunk(CHAT, {}, 'stop'), { data: '[DONE]' });
  return out;
}

function completionsStream(n: number): SseEvent[] {
  const chunk = (text: string, finish: string | null) => ({
    data: {
      id: 'cmpl-tel',
      object: 'text_completion',
      created: 1,
      model: 'gpt-3.5-turbo-instruct',
      choices: [{ index: 0, text, logprobs: null, finish_reason: finish }],
    },
  });
  const out: SseEvent[] = [];
  for (let i = 0; i < n; i++) out.push(chunk(PIECE, null));
  out.push(chunk('', 'stop'), { data: '[DONE]' });
  return out;
}

/** A Responses stream of `n` events made by `each`, then a terminal event repeating nothing. */
function responsesStream(
  n: number,
  kind: 'text' | 'arguments' | 'refusal' | 'reasoning' | 'quotes',
): SseEvent[] {
  const ev = responseEvents();
  const t = outputTextEvents(ev, 'msg_1', 0);
  const out: SseEvent[] = [
    ev('response.created', { response: responseBody('resp_tel', 'gpt-4o', 'in_progress', []) }),
  ];
  if (kind === 'text') out.push(t.partAdded());
  for (let i = 0; i < n; i++) {
    if (kind === 'text') out.push(t.delta(PIECE));
    else if (kind === 'quotes')
      out.push(
        ev('response.output_text.annotation.added', {
          item_id: 'msg_1',
          output_index: 0,
          content_index: 0,
          annotation_index: i,
          annotation: { type: 'url_citation', title: PIECE, start_index: 0, end_index: 0 },
        }),
      );
    else if (kind === 'arguments')
      out.push(
        ev('response.function_call_arguments.delta', { item_id: 'fc_1', output_index: 0, delta: PIECE }),
      );
    else if (kind === 'refusal')
      out.push(
        ev('response.refusal.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: PIECE }),
      );
    else
      out.push(
        ev('response.reasoning_summary_text.delta', {
          item_id: 'rs_1',
          output_index: 0,
          summary_index: 0,
          delta: PIECE,
        }),
      );
  }
  out.push(ev('response.completed', { response: responseBody('resp_tel', 'gpt-4o', 'completed', []) }));
  return out;
}

const ANTHROPIC = { id: 'msg_tel', model: 'claude-sonnet-4-5', usage: { input_tokens: 3, output_tokens: 5 } };

function anthropicBlock(n: number, kind: 'text' | 'tool' | 'thinking' | 'citations'): SseEvent[] {
  if (kind === 'text') return anthropicStream(ANTHROPIC, textBlockEvents(0, Array(n).fill(PIECE)));
  if (kind === 'citations') {
    const cite = { type: 'citations_delta', citation: { type: 'char_location', cited_text: PIECE } };
    const blocks: SseEvent[] = [
      anthropicEvent('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ];
    for (let i = 0; i < n; i++) blocks.push(anthropicEvent('content_block_delta', { index: 0, delta: cite }));
    blocks.push(anthropicEvent('content_block_stop', { index: 0 }));
    return anthropicStream(ANTHROPIC, blocks);
  }
  const block =
    kind === 'tool'
      ? { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} }
      : { type: 'thinking', thinking: '', signature: '' };
  const delta =
    kind === 'tool'
      ? { type: 'input_json_delta', partial_json: PIECE }
      : { type: 'thinking_delta', thinking: PIECE };
  const blocks: SseEvent[] = [anthropicEvent('content_block_start', { index: 0, content_block: block })];
  for (let i = 0; i < n; i++) blocks.push(anthropicEvent('content_block_delta', { index: 0, delta }));
  blocks.push(anthropicEvent('content_block_stop', { index: 0 }));
  return anthropicStream(ANTHROPIC, blocks);
}

// --- the reads ---

type Client = 'chat' | 'completions' | 'responses' | 'anthropic';

/** Reads the stream to its end through an unguarded client; the characters of text the reader got, and the call's summary. */
async function read(client: Client, stream: SseEvent[], options: Record<string, unknown> = {}) {
  events = stream;
  spyOnSummaries();
  let got = 0;
  const opts = { ...h.options(), ...options };
  if (client === 'anthropic') {
    const c = instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }), opts);
    const s = await c.messages.create({
      model: ANTHROPIC.model,
      max_tokens: 10,
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
    });
    for await (const e of s as AsyncIterable<Record<string, any>>)
      if (e.type === 'content_block_delta')
        got += (
          e.delta.text ??
          e.delta.partial_json ??
          e.delta.thinking ??
          e.delta.citation?.cited_text ??
          ''
        ).length;
  } else {
    const c = instrumentClient(
      new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      opts,
    );
    const s =
      client === 'chat'
        ? await c.chat.completions.create({
            model: 'gpt-4o',
            messages: [{ role: 'user', content: 'x' }],
            stream: true,
          })
        : client === 'completions'
          ? await c.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'x', stream: true })
          : await c.responses.create({ model: 'gpt-4o', input: 'x', stream: true });
    for await (const e of s as AsyncIterable<Record<string, any>>) {
      for (const ch of e.choices ?? [])
        got +=
          (ch.text ?? '').length +
          (ch.delta?.content ?? '').length +
          (ch.delta?.refusal ?? '').length +
          (ch.delta?.reasoning_content ?? '').length +
          (ch.delta?.tool_calls?.[0]?.function?.arguments ?? '').length +
          (ch.delta?.annotations?.[0]?.url_citation?.title ?? '').length;
      if (typeof e.delta === 'string') got += e.delta.length;
      if (e.type === 'response.output_text.annotation.added') got += e.annotation.title.length;
    }
  }
  // A bound on a hang, not a measure: the span ends and the event is recorded after the read.
  await eventually(
    () => summaries.length > 0 && h.recorded.some((e) => e.category === 'request_completed'),
    30_000,
  );
  return { got, summary: summaries[0] as ResponseSummary };
}

/** The stream_text_truncated count (llmsec.telemetry.errors). */
const truncations = (): Promise<number> => streamTextTruncations(h.reader);

/** Each unguarded path: a stream of `n` pieces of 64 Ki characters of that kind. */
const PATHS: Array<[string, Client, (n: number) => SseEvent[], boolean]> = [
  ['chat content', 'chat', (n) => chatStream(n, () => ({ content: PIECE })), true],
  ['chat choices (n = 2)', 'chat', (n) => chatChoices(n / 2), true],
  ['chat refusal', 'chat', (n) => chatStream(n, () => ({ refusal: PIECE })), true],
  ['chat tool arguments', 'chat', (n) => chatStream(n, () => call(PIECE)), true],
  ['chat quotes', 'chat', (n) => chatStream(n, () => ({ annotations: [quote] })), true],
  ['chat reasoning', 'chat', (n) => chatStream(n, () => ({ reasoning_content: PIECE })), false],
  ['legacy completions', 'completions', completionsStream, true],
  ['Responses text', 'responses', (n) => responsesStream(n, 'text'), true],
  ['Responses arguments', 'responses', (n) => responsesStream(n, 'arguments'), true],
  ['Responses refusal', 'responses', (n) => responsesStream(n, 'refusal'), true],
  ['Responses quotes', 'responses', (n) => responsesStream(n, 'quotes'), true],
  ['Responses reasoning', 'responses', (n) => responsesStream(n, 'reasoning'), false],
  ['Anthropic text', 'anthropic', (n) => anthropicBlock(n, 'text'), true],
  ['Anthropic tool input', 'anthropic', (n) => anthropicBlock(n, 'tool'), true],
  ['Anthropic citations', 'anthropic', (n) => anthropicBlock(n, 'citations'), true],
  ['Anthropic thinking', 'anthropic', (n) => anthropicBlock(n, 'thinking'), false],
];

describe.each(PATHS)('an unguarded stream: %s', (_name, client, stream, output) => {
  // n = 2: the summary's text joins the choices by a line break.
  const join = _name.includes('choices') ? 1 : 0;

  it('past the cap: delivered whole, its telemetry copy stops at the cap, the rest counted', async () => {
    const before = await truncations();
    const r = await read(client, stream(OVER));
    expect(r.got).toBe(OVER * KI64);
    // Before: 1.5 Mi characters kept, as long as the stream.
    expect(keptChars(r.summary)).toBe(MAX_TELEMETRY_TEXT_CHARS + join);
    // Output text read and not kept (reasoning is not output the lease's estimate counts).
    expect(r.summary.droppedChars).toBe(output ? (OVER - FILL) * KI64 : 0);
    expect((await truncations()) - before).toBe(1);
  });

  it('up to the cap: everything kept, nothing counted, as before', async () => {
    const before = await truncations();
    const r = await read(client, stream(FILL));
    expect(r.got).toBe(FILL * KI64);
    expect(keptChars(r.summary)).toBe(FILL * KI64 + join);
    expect(r.summary.droppedChars).toBeUndefined();
    expect((await truncations()) - before).toBe(0);
  });
});

/** The text `text` streamed as chat content in pieces of 64 Ki characters. */
function chatText(text: string): SseEvent[] {
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += KI64) pieces.push(text.slice(i, i + KI64));
  return chatStream(pieces.length, (i) => ({ content: pieces[i] }));
}

/** The captured output's content (gen_ai.output.messages) of the call's span. */
function captured(): string {
  const span = h.spans().find((s) => s.attributes['gen_ai.output.messages'] !== undefined);
  const messages = JSON.parse(span?.attributes['gen_ai.output.messages'] as string) as Array<{
    parts: Array<{ content: string }>;
  }>;
  return messages[0]!.parts[0]!.content;
}

describe('the telemetry of an unguarded stream past the cap', () => {
  it('the captured output of a long answer is its preview, as it was read whole', async () => {
    const words = 'write to jane.doe@example.com today. '.repeat(48 * 1024);
    await read('chat', chatText(words), { captureContent: true });
    expect(summaries[0]!.droppedChars).toBeGreaterThan(0);
    expect(captured()).toBe(redactPreview(words, 500).preview);
  });

  it('a finding the cap cut through is not shown, when redaction shrank the kept text to its preview', async () => {
    // JWTs of 32 Ki characters (each one short placeholder), an address cut by the cap, then
    // more text: the preview of the kept prefix redacts it whole, and the cut address ('jane.doe@ex',
    // no domain: not an address) would lie inside the first 500 characters it shows.
    const jwt = (n: number) => {
      const payload = Math.min(16384, n - 36);
      return `eyJ${'h'.repeat(30)}.${'p'.repeat(payload)}.${'s'.repeat(n - 35 - payload)}`;
    };
    let text = '';
    while (text.length + 32 * 1024 + 1 <= MAX_TELEMETRY_TEXT_CHARS - 12) text += `${jwt(32 * 1024)} `;
    text += `${jwt(MAX_TELEMETRY_TEXT_CHARS - 12 - text.length - 1)} `;
    expect(text.length).toBe(MAX_TELEMETRY_TEXT_CHARS - 12);
    text += ' jane.doe@example.com and more. '.repeat(16 * 1024);
    await read('chat', chatText(text), { captureContent: true });
    expect(summaries[0]!.text).toBe(text.slice(0, MAX_TELEMETRY_TEXT_CHARS));
    expect(summaries[0]!.text.endsWith(' jane.doe@ex')).toBe(true);
    expect(captured()).not.toContain('jane');
    expect(captured()).not.toContain('eyJ');
    // The whole text's own preview shows the address redacted (it was read whole, before).
    expect(redactPreview(text, 500).preview).toContain('[REDACTED:email]');
  });

  it('the lease settles on every character read, kept or not', async () => {
    const settled: number[] = [];
    const limiter = {
      acquire: async () => ({ allowed: true, retryAfterMs: 0, lease: {} }),
      settle: (_l: unknown, u: { tokens: number }) => void settled.push(u.tokens),
      cancel: () => undefined,
    };
    // No usage chunk: the lease settles on the characters / 4 (lease.ts).
    await read(
      'chat',
      chatStream(OVER, () => ({ content: PIECE })),
      { limiter },
    );
    h.reset();
    await read(
      'chat',
      chatStream(FILL, () => ({ content: PIECE })),
      { limiter },
    );
    expect(settled).toHaveLength(2);
    expect(settled[0]! - settled[1]!).toBe(((OVER - FILL) * KI64) / 4);
  });
});
