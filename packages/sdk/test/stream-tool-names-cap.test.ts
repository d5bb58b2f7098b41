import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { toolAllowlistGuard } from '../src/guards/index.ts';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { MAX_TOOL_CALL_NAMES, MAX_TOOL_NAME_CHARS } from '../src/instrumentation/tool-names.ts';
import { anthropicEvent, anthropicStream } from './fixtures/anthropic-reply.ts';
import { spyOnSummaries, summaries } from './fixtures/call-summaries.ts';
import { chatChunk } from './fixtures/chat-reply.ts';
import { eventually, sseScript, useInstrHarness } from './fixtures/instr-harness.ts';
import type { SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * A stream's summary lists the tools its calls name (`toolCalls`, what toolAllowlistGuard reads).
 * Before, a chat stream pushed a name for every chunk that gave one (OpenAI-compatible servers
 * repeat a call's name in each chunk of its arguments), an Anthropic stream one for every
 * tool_use block start, with no cap on their number or length: a server naming a call in every
 * chunk, a new call in each, or one name of megabytes grew it without bound. Now a call's name is
 * listed once (tool-names.ts), at most MAX_TOOL_CALL_NAMES names of at most MAX_TOOL_NAME_CHARS
 * characters: past a cap a guarded stream is cut (OutputBlockedError, filter stream_limit), an
 * unguarded one leaves the name out and goes on. Real openai and @anthropic-ai/sdk clients
 * against the fake server.
 */

let events: SseEvent[] = [];

const h = useInstrHarness({ script: sseScript(() => events) });

afterEach(() => {
  vi.restoreAllMocks();
});

const CHAT = { id: 'chatcmpl-names', created: 1, model: 'gpt-4o' };

/** A chat stream of `n` chunks, each naming the call `index(i)` `name(i)` with an argument piece. */
function chatCalls(n: number, index: (i: number) => number, name: (i: number) => string): SseEvent[] {
  const out: SseEvent[] = [chatChunk(CHAT, { role: 'assistant', content: null })];
  for (let i = 0; i < n; i++)
    out.push(
      chatChunk(CHAT, {
        tool_calls: [{ index: index(i), type: 'function', function: { name: name(i), arguments: '' } }],
      }),
    );
  out.push(chatChunk(CHAT, {}, 'tool_calls'), { data: '[DONE]' });
  return out;
}

/** A chat stream whose legacy function_call is named in each of `n` chunks. */
function chatLegacy(n: number): SseEvent[] {
  const out: SseEvent[] = [];
  for (let i = 0; i < n; i++) out.push(chatChunk(CHAT, { function_call: { name: 'f', arguments: '{}' } }));
  out.push(chatChunk(CHAT, {}, 'function_call'), { data: '[DONE]' });
  return out;
}

const ANTHROPIC = {
  id: 'msg_names',
  model: 'claude-sonnet-4-5',
  usage: { input_tokens: 3, output_tokens: 5 },
};

/** An Anthropic stream of `n` tool_use block starts, block `index(i)` calling `name(i)`. */
function anthropicCalls(n: number, index: (i: number) => number, name: (i: number) => string): SseEvent[] {
  const blocks: SseEvent[] = [];
  for (let i = 0; i < n; i++)
    blocks.push(
      anthropicEvent('content_block_start', {
        index: index(i),
        content_block: { type: 'tool_use', id: `toolu_${i}`, name: name(i), input: {} },
      }),
    );
  return anthropicStream(ANTHROPIC, blocks, 'tool_use');
}

/** Reads the stream to its end (or its cut); guarded: an allowlist of `f`, an output guard. */
async function read(client: 'chat' | 'anthropic', guarded: boolean, stream: SseEvent[]) {
  h.reset();
  events = stream;
  spyOnSummaries();
  const options = {
    ...h.options(),
    ...(guarded ? { guards: { output: [toolAllowlistGuard({ allowed: ['f'] })] } } : {}),
  };
  let items = 0;
  let err: unknown;
  try {
    if (client === 'chat') {
      const c = instrumentClient(
        new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
        options,
      );
      const s = await c.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      });
      for await (const _ of s) items++;
    } else {
      const c = instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }), options);
      const s = await c.messages.create({
        model: ANTHROPIC.model,
        max_tokens: 10,
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      });
      for await (const _ of s) items++;
    }
  } catch (e) {
    err = e;
  }
  // A bound on a hang, not a measure: the event is recorded after the read.
  await eventually(
    () => summaries.length > 0 && h.recorded.some((e) => e.category === 'request_completed'),
    30_000,
  );
  const outcome = h.recorded
    .filter((e) => e.category === 'request_completed')
    .map((e) => e.metadata?.outcome);
  return { err, items, names: summaries[0]!.toolCalls, outcome };
}

function expectCut(r: Awaited<ReturnType<typeof read>>, reason: string): void {
  expect(r.err).toBeInstanceOf(OutputBlockedError);
  expect((r.err as OutputBlockedError).filter).toBe('stream_limit');
  expect((r.err as OutputBlockedError).reason).toBe(reason);
  expect(r.outcome).toEqual(['blocked']);
}

const TOO_MANY = `stream_limit: more than ${MAX_TOOL_CALL_NAMES} tool-call names`;
const TOO_LONG = `stream_limit: a tool name longer than ${MAX_TOOL_NAME_CHARS} characters`;
const LONG = 'g'.repeat(MAX_TOOL_NAME_CHARS + 1);

/**
 * One read of a scripted stream, guarded and not: a guarded stream past a cap is cut with
 * `cut`; otherwise the summary lists `names` (or that many), the read ends without error and the
 * call is allowed.
 */
interface Case {
  name: string;
  client: 'chat' | 'anthropic';
  stream: () => SseEvent[];
  names: string[] | number;
  /** A guarded stream is cut with this reason (an unguarded one leaves the name out). */
  cut?: string;
  /** Unguarded: the items the reader got. */
  items?: number;
}

const f = () => 'f';

const CASES: Case[] = [
  // Before: 5,000 names.
  {
    name: 'a chat call named in each of its 5,000 chunks is listed once',
    client: 'chat',
    stream: () => chatCalls(5000, () => 0, f),
    names: ['f'],
  },
  {
    name: 'a legacy function_call named in each of 5,000 chunks is listed once',
    client: 'chat',
    stream: () => chatLegacy(5000),
    names: ['f'],
  },
  {
    name: 'parallel calls of one tool are each listed once (before: once a chunk)',
    client: 'chat',
    stream: () => chatCalls(6, (i) => i % 3, f),
    names: ['f', 'f', 'f'],
  },
  {
    name: `chat: up to ${MAX_TOOL_CALL_NAMES} calls are listed`,
    client: 'chat',
    stream: () => chatCalls(MAX_TOOL_CALL_NAMES, (i) => i, f),
    names: MAX_TOOL_CALL_NAMES,
  },
  // Before: every name listed, as many as the stream gave.
  {
    name: `chat: a call past ${MAX_TOOL_CALL_NAMES} cuts a guarded stream, is left out of an unguarded one`,
    client: 'chat',
    stream: () => chatCalls(MAX_TOOL_CALL_NAMES + 1, (i) => i, f),
    names: MAX_TOOL_CALL_NAMES,
    cut: TOO_MANY,
    items: MAX_TOOL_CALL_NAMES + 3,
  },
  {
    name: `chat: a name longer than ${MAX_TOOL_NAME_CHARS} characters cuts a guarded stream, is left out of an unguarded one`,
    client: 'chat',
    stream: () =>
      chatCalls(
        2,
        (i) => i,
        (i) => (i === 0 ? 'f' : LONG),
      ),
    names: ['f'],
    cut: TOO_LONG,
  },
  {
    name: `Anthropic: tool_use blocks past ${MAX_TOOL_CALL_NAMES} cut a guarded stream, are left out of an unguarded one`,
    client: 'anthropic',
    stream: () => anthropicCalls(MAX_TOOL_CALL_NAMES + 1, (i) => i, f),
    names: MAX_TOOL_CALL_NAMES,
    cut: TOO_MANY,
  },
  {
    name: 'Anthropic: a block started again with its name is listed once',
    client: 'anthropic',
    stream: () => anthropicCalls(5000, () => 0, f),
    names: ['f'],
  },
  {
    name: 'Anthropic: a long name as in chat',
    client: 'anthropic',
    stream: () =>
      anthropicCalls(
        1,
        () => 0,
        () => LONG,
      ),
    names: [],
    cut: TOO_LONG,
  },
];

describe.each([false, true])('tool-call names of a stream (guarded: %s)', (guarded) => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const r = await read(c.client, guarded, c.stream());
    if (guarded && c.cut !== undefined) return expectCut(r, c.cut);
    if (typeof c.names === 'number') expect(r.names).toHaveLength(c.names);
    else expect(r.names).toEqual(c.names);
    expect(r.err).toBeUndefined();
    expect(r.outcome).toEqual(['allowed']);
    if (!guarded && c.items !== undefined) expect(r.items).toBe(c.items);
  });
});
