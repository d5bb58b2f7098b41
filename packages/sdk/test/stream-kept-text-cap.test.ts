import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { KeptText, MAX_KEPT_TEXT_CHARS } from '../src/instrumentation/kept-text.ts';
import { MAX_DELIVERED_PARTS } from '../src/instrumentation/responses-stream-rewrite.ts';
import { StreamedArguments } from '../src/instrumentation/tool-arguments.ts';
import { anthropicEvent, anthropicStream } from './fixtures/anthropic-reply.ts';
import { chatChunk } from './fixtures/chat-reply.ts';
import { eventually, sseScript, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiAnthropic, piiOpenAI, type PiiMode } from './fixtures/pii-guarded-client.ts';
import { outputTextEvents, responseBody, responseEvents } from './fixtures/responses-reply.ts';
import type { SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * The end check reads a guarded stream whole, so each adapter's accumulator keeps a copy of its
 * texts (the answer, refusals, tool arguments, reasoning, quotes) for it, in every mode. Before,
 * that copy had no cap: a server (or a proxy) streaming for ever grew the application's memory
 * without bound. So did a redact stream's own copies of what it delivered: a Responses part's
 * delivered text (and one entry per part, even for an empty delta) and a chat reasoning's sent
 * text. Now past MAX_KEPT_TEXT_CHARS (32 Mi) of text kept the stream is cut at the item that
 * crosses it, before that item is delivered (OutputBlockedError, filter stream_limit, its
 * output_filter_block event), and a Responses redact stream past MAX_DELIVERED_PARTS parts too.
 * Real openai and @anthropic-ai/sdk clients against the fake server; pieces of 1 MiB, so 33 of
 * them pass the cap.
 */

const MIB = 1024 * 1024;
const PIECE = 'a'.repeat(MIB);
const OVER = MAX_KEPT_TEXT_CHARS / MIB + 1;
const REASON = `stream_limit: more than ${MAX_KEPT_TEXT_CHARS} characters of text read`;

let events: SseEvent[] = [];

const h = useInstrHarness({ script: sseScript(() => events) });

// --- the scripted streams ---

const CHAT = { id: 'chatcmpl-kept', created: 1, model: 'gpt-4o' };

/** A chat answer of `n` content pieces of 1 MiB. */
function chatContent(n: number): SseEvent[] {
  const out: SseEvent[] = [chatChunk(CHAT, { role: 'assistant', content: '' })];
  for (let i = 0; i < n; i++) out.push(chatChunk(CHAT, { content: PIECE }));
  out.push(chatChunk(CHAT, {}, 'stop'), { data: '[DONE]' });
  return out;
}

/**
 * A chat answer whose reasoning comes in two runs of `mib` MiB, the answer's first word between
 * them: a redact stream sends the first run when the answer begins and lets go of it, and the
 * second (resumed) run at the finish, so its hold (held-text.ts) never passes one run while the
 * reasoning it has sent (and the accumulator's copy) is both runs.
 */
function chatReasoningRuns(mib: number): SseEvent[] {
  const out: SseEvent[] = [];
  for (let r = 0; r < 2; r++) {
    for (let i = 0; i < mib; i++) out.push(chatChunk(CHAT, { reasoning_content: PIECE }));
    if (r === 0) out.push(chatChunk(CHAT, { content: 'ok\n' }));
  }
  out.push(chatChunk(CHAT, {}, 'stop'), { data: '[DONE]' });
  return out;
}

/** A Responses answer: one output_text part of `n` deltas of 1 MiB, or `empty` empty deltas each of a new part. */
function responsesStream(n: number, empty = 0): SseEvent[] {
  const ev = responseEvents();
  const t = outputTextEvents(ev, 'msg_1', 0);
  const created = responseBody('resp_kept', 'gpt-4o', 'in_progress', []);
  const out: SseEvent[] = [ev('response.created', { response: created }), t.partAdded()];
  for (let i = 0; i < n; i++) out.push(t.delta(PIECE));
  for (let i = 0; i < empty; i++)
    out.push(
      ev('response.output_text.delta', {
        item_id: 'msg_1',
        output_index: 0,
        content_index: i + 1,
        delta: '',
      }),
    );
  out.push(ev('response.completed', { response: responseBody('resp_kept', 'gpt-4o', 'completed', []) }));
  return out;
}

const ANTHROPIC = {
  id: 'msg_kept',
  model: 'claude-sonnet-4-5',
  usage: { input_tokens: 3, output_tokens: 5 },
};

/** An Anthropic answer: one block of `n` pieces of 1 MiB, text or thinking. */
function anthropicPieces(n: number, kind: 'text' | 'thinking'): SseEvent[] {
  const block =
    kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' };
  const delta =
    kind === 'text' ? { type: 'text_delta', text: PIECE } : { type: 'thinking_delta', thinking: PIECE };
  const blocks: SseEvent[] = [anthropicEvent('content_block_start', { index: 0, content_block: block })];
  for (let i = 0; i < n; i++) blocks.push(anthropicEvent('content_block_delta', { index: 0, delta }));
  blocks.push(anthropicEvent('content_block_stop', { index: 0 }));
  return anthropicStream(ANTHROPIC, blocks);
}

// --- the reads ---

type Client = 'chat' | 'responses' | 'anthropic';

/** Each item the reader got, until the read ended or failed (`err`), and the call's telemetry. */
async function read(client: Client, mode: PiiMode | 'none', script: SseEvent[]) {
  events = script;
  const seen: unknown[] = [];
  let err: unknown;
  try {
    if (client === 'anthropic') {
      const c =
        mode === 'none'
          ? instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }), h.options())
          : piiAnthropic(h, mode);
      const s = await c.messages.create({
        model: ANTHROPIC.model,
        max_tokens: 10,
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      });
      for await (const e of s) seen.push(e);
    } else {
      const c =
        mode === 'none'
          ? instrumentClient(
              new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
              h.options(),
            )
          : piiOpenAI(h, mode);
      const s =
        client === 'chat'
          ? await c.chat.completions.create({
              model: 'gpt-4o',
              messages: [{ role: 'user', content: 'x' }],
              stream: true,
            })
          : await c.responses.create({ model: 'gpt-4o', input: 'x', stream: true });
      for await (const e of s) seen.push(e);
    }
  } catch (e) {
    err = e;
  }
  await eventually(() => h.recorded.some((e) => e.category === 'request_completed'));
  return {
    err,
    chars: textChars(seen),
    outcome: h.recorded.filter((e) => e.category === 'request_completed').map((e) => e.metadata?.outcome),
    blocks: h.recorded.filter((e) => e.category === 'output_filter_block').map((e) => e.metadata),
  };
}

/** Characters of answer, reasoning and thinking text the reader got, all clients' shapes. */
function textChars(seen: unknown[]): number {
  let n = 0;
  for (const e of seen as Array<Record<string, any>>) {
    for (const c of e.choices ?? [])
      n += (c.delta?.content?.length ?? 0) + (c.delta?.reasoning_content?.length ?? 0);
    if (e.type === 'response.output_text.delta') n += e.delta.length;
    if (e.type === 'content_block_delta') n += (e.delta.text?.length ?? 0) + (e.delta.thinking?.length ?? 0);
  }
  return n;
}

function expectCut(r: Awaited<ReturnType<typeof read>>, reason = REASON): void {
  expect(r.err).toBeInstanceOf(OutputBlockedError);
  const blocked = r.err as OutputBlockedError;
  expect(blocked.filter).toBe('stream_limit');
  expect(blocked.reason).toBe(reason);
  // Nothing past the cap reached the reader.
  expect(r.chars).toBeLessThanOrEqual(MAX_KEPT_TEXT_CHARS);
  expect(r.outcome).toEqual(['blocked']);
  expect(r.blocks).toHaveLength(1);
  expect(r.blocks[0]).toMatchObject({ filter_name: 'stream_limit', block_reason: reason });
}

function expectWhole(r: Awaited<ReturnType<typeof read>>, chars: number): void {
  expect(r.err).toBeUndefined();
  expect(r.chars).toBe(chars);
  expect(r.outcome).toEqual(['allowed']);
  expect(r.blocks).toHaveLength(0);
}

describe.each(['detect', 'block', 'redact'] as const)('the end check’s copy of a %s stream', (mode) => {
  it('a chat answer past MAX_KEPT_TEXT_CHARS is cut there, reported as a block', async () => {
    expectCut(await read('chat', mode, chatContent(OVER)));
  });

  it('an Anthropic answer past the cap is cut there', async () => {
    expectCut(await read('anthropic', mode, anthropicPieces(OVER, 'text')));
  });

  it('a Responses answer past the cap is cut there', async () => {
    expectCut(await read('responses', mode, responsesStream(OVER)));
  });

  it('under the cap a stream is delivered whole, as before', async () => {
    expectWhole(await read('chat', mode, chatContent(3)), 3 * MIB);
  });
});

describe('the cap counts every text the end check reads', () => {
  it('an Anthropic thinking block past the cap is cut (detect)', async () => {
    expectCut(await read('anthropic', 'detect', anthropicPieces(OVER, 'thinking')));
  });

  it('a redact chat stream’s reasoning sent in runs past the cap is cut, its hold under it', async () => {
    // Two runs of 24 MiB: the hold never passes 24 MiB; the reasoning sent was 48 MiB before.
    expectCut(await read('chat', 'redact', chatReasoningRuns(24)));
  });

  it('a redact chat stream’s reasoning in runs under the cap is delivered whole', async () => {
    expectWhole(await read('chat', 'redact', chatReasoningRuns(8)), 16 * MIB + 'ok\n'.length);
  });

  it('without output guards nothing reads the copy for a verdict: the stream is not cut', async () => {
    expectWhole(await read('chat', 'none', chatContent(OVER)), OVER * MIB);
  });
});

describe('a redact Responses stream’s delivered parts', () => {
  it(`past ${MAX_DELIVERED_PARTS} parts (empty deltas: no character counted) the stream is cut`, async () => {
    expectCut(
      await read('responses', 'redact', responsesStream(0, MAX_DELIVERED_PARTS + 1)),
      `stream_limit: more than ${MAX_DELIVERED_PARTS} output_text parts`,
    );
  });

  it('up to the cap they are delivered, as before', async () => {
    expectWhole(await read('responses', 'redact', responsesStream(1, MAX_DELIVERED_PARTS - 1)), MIB);
  });
});

describe('KeptText and StreamedArguments', () => {
  it('a done event’s whole text replaces its pieces in the count; a contradicting one is kept beside them', () => {
    const kept = new KeptText(true);
    const a = new StreamedArguments(kept);
    a.add('k', 'ab');
    a.add('k', 'c');
    expect(kept.chars).toBe(3);
    a.set('k', 'abcd'); // the pieces' whole: replaces them
    expect(kept.chars).toBe(4);
    a.set('k', 'xy'); // contradicts them: 'abcd' is still kept, under its own key
    expect(kept.chars).toBe(6);
    expect(a.texts().sort()).toEqual(['abcd', 'xy']);
  });

  it('an unguarded count never throws; a guarded one throws past the cap', () => {
    const free = new KeptText(false);
    free.add(MAX_KEPT_TEXT_CHARS + 1);
    expect(free.chars).toBe(MAX_KEPT_TEXT_CHARS + 1);
    const guarded = new KeptText(true);
    guarded.add(MAX_KEPT_TEXT_CHARS);
    expect(() => guarded.add(1)).toThrow(REASON);
  });
});
