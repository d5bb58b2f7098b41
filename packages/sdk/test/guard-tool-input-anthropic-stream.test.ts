import { describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';
import { piiAnthropic } from './fixtures/pii-guarded-client.ts';

/**
 * A redact Anthropic stream's tool inputs (anthropic-tool-input-rewrite.ts), through the real
 * @anthropic-ai/sdk against the fake server: the `input_json_delta` pieces are kept back and
 * the block's input goes out whole, redacted, just before its `content_block_stop`, so the raw
 * events, MessageStream's `finalMessage()` and its `inputJson` events all carry the redacted
 * input. Before, the pieces reached the reader as sent. Also the inputs of server tools
 * (`server_tool_use`: a web search query), read in every mode, plain and streamed.
 */

const EMAIL = 'jane.doe@example.com';
/** The tool block's input (JSON text): set per test. */
let args = '';
/** The tool block's type: set per test. */
let blockType = 'tool_use';
/** Whether the stream is cut before the block's stop. */
let cut = false;

function pieces(): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i += 5) out.push(args.slice(i, i + 5));
  return out;
}

function reply(req: FakeRequest): FakeResponse | undefined {
  if (req.path !== '/v1/messages') return undefined;
  const tool =
    blockType === 'tool_use'
      ? { type: 'tool_use', id: 'toolu_1', name: 'send_mail' }
      : { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search' };
  const message = (content: unknown[], stop: string | null) => ({
    id: 'msg_t',
    type: 'message',
    role: 'assistant',
    model: 'claude-haiku-4-5',
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: { input_tokens: 5, output_tokens: 7 },
  });
  const text = { type: 'text', text: 'Sending.' };
  if (req.body.stream !== true)
    return {
      kind: 'json',
      body: message([text, { ...tool, input: JSON.parse(args) as unknown }], 'tool_use'),
    };
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, ...data },
  });
  const events = [
    ev('message_start', { message: message([], null) }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Sending.' } }),
    ev('content_block_stop', { index: 0 }),
    ev('content_block_start', { index: 1, content_block: { ...tool, input: {} } }),
    ...pieces().map((p) =>
      ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: p } }),
    ),
  ];
  if (cut) return { kind: 'sse', events };
  return {
    kind: 'sse',
    events: [
      ...events,
      ev('content_block_stop', { index: 1 }),
      ev('message_delta', {
        delta: { stop_reason: 'tool_use', stop_sequence: null },
        usage: { output_tokens: 7 },
      }),
      ev('message_stop', {}),
    ],
  };
}

const h = useInstrHarness({ script: reply });

type Mode = 'detect' | 'block' | 'redact';

const params = {
  model: 'claude-haiku-4-5',
  max_tokens: 50,
  messages: [{ role: 'user' as const, content: 'x' }],
};

function piiEvents(): SecurityEvent[] {
  return h.recorded.filter((e) => e.category === 'pii_detected');
}

/** The raw events' input pieces joined, as a reader that joins them itself gets the input. */
async function rawInput(mode: Mode): Promise<{ joined: string; seen: unknown[] }> {
  const s = await piiAnthropic(h, mode).messages.create({ ...params, stream: true });
  const seen: unknown[] = [];
  let joined = '';
  for await (const e of s) {
    seen.push(e);
    if (e.type === 'content_block_delta' && e.delta.type === 'input_json_delta')
      joined += e.delta.partial_json;
  }
  return { joined, seen };
}

describe('a redact Anthropic stream rewrites tool inputs', () => {
  it('the pieces go out empty and the input whole, redacted, just before the block stop', async () => {
    blockType = 'tool_use';
    cut = false;
    args = JSON.stringify({ to: EMAIL, subject: 'Your refund' });
    const { joined, seen } = await rawInput('redact');
    expect(JSON.parse(joined)).toEqual({ to: '[REDACTED:email]', subject: 'Your refund' });
    expect(JSON.stringify(seen)).not.toMatch(/jane|example\.com/);
    // The whole input is the delta right before block 1's stop; every event the API sent is there.
    const types = seen.map((e) => (e as { type: string }).type);
    const stop = seen.findIndex(
      (e) =>
        (e as { type: string; index?: number }).type === 'content_block_stop' &&
        (e as { index: number }).index === 1,
    );
    expect(JSON.parse((seen[stop - 1] as { delta: { partial_json: string } }).delta.partial_json)).toEqual({
      to: '[REDACTED:email]',
      subject: 'Your refund',
    });
    expect(types.filter((t) => t === 'content_block_delta')).toHaveLength(1 + pieces().length + 1);
    expect(types.at(-1)).toBe('message_stop');
    await eventually(() => piiEvents().length > 0);
    expect(piiEvents()[0]!.metadata).toMatchObject({ found_in: ['tool_arguments'] });
  });

  it('MessageStream: finalMessage() and inputJson events carry the redacted input', async () => {
    blockType = 'tool_use';
    cut = false;
    args = JSON.stringify({ to: EMAIL, subject: 'Your refund' });
    const s = piiAnthropic(h, 'redact').messages.stream(params);
    const partials: string[] = [];
    let snapshot: unknown;
    s.on('inputJson', (partial, snap) => {
      partials.push(partial);
      snapshot = snap;
    });
    const blocks: unknown[] = [];
    s.on('contentBlock', (b) => blocks.push(b));
    const final = await s.finalMessage();
    const tool = final.content[1];
    expect(tool?.type === 'tool_use' ? tool.input : undefined).toEqual({
      to: '[REDACTED:email]',
      subject: 'Your refund',
    });
    expect(JSON.parse(partials.join(''))).toEqual({ to: '[REDACTED:email]', subject: 'Your refund' });
    expect(snapshot).toEqual({ to: '[REDACTED:email]', subject: 'Your refund' });
    expect(JSON.stringify(blocks)).not.toMatch(/jane/);
    expect(blocks).toHaveLength(2);
  });

  it('clean input arrives as sent, whole before the stop', async () => {
    blockType = 'tool_use';
    cut = false;
    args = JSON.stringify({ to: 'the billing team', n: 12 });
    const { joined } = await rawInput('redact');
    expect(joined).toBe(args);
    const final = await piiAnthropic(h, 'redact').messages.stream(params).finalMessage();
    const tool = final.content[1];
    expect(tool?.type === 'tool_use' ? tool.input : undefined).toEqual(JSON.parse(args));
  });

  it('a redaction that would break the JSON blocks before any of the input', async () => {
    blockType = 'tool_use';
    cut = false;
    args = '{"card":"x","n":4111111111111111}';
    const seen: unknown[] = [];
    const read = async () => {
      const s = await piiAnthropic(h, 'redact').messages.create({ ...params, stream: true });
      for await (const e of s) seen.push(e);
    };
    await expect(read()).rejects.toBeInstanceOf(OutputBlockedError);
    expect(JSON.stringify(seen)).not.toMatch(/4111/);
    const block = h.recorded.find((e) => e.category === 'output_filter_block');
    expect(block?.metadata).toMatchObject({ filter_name: 'tool_arguments' });
  });

  it('a stream cut before the block stop delivers none of the input', async () => {
    blockType = 'tool_use';
    cut = true;
    args = JSON.stringify({ to: EMAIL });
    const { joined, seen } = await rawInput('redact').catch(() => ({ joined: '', seen: [] as unknown[] }));
    expect(joined).toBe('');
    expect(JSON.stringify(seen)).not.toMatch(/jane/);
    cut = false;
  });
});

describe("server tools' inputs are read as tool arguments", () => {
  const query = JSON.stringify({ query: `who is ${EMAIL}` });

  for (const stream of [false, true]) {
    it(`detect reports an address in a web search query${stream ? ', streamed' : ''}`, async () => {
      blockType = 'server_tool_use';
      cut = false;
      args = query;
      if (stream) await rawInput('detect');
      else await piiAnthropic(h, 'detect').messages.create(params);
      await eventually(() => piiEvents().length > 0);
      expect(piiEvents()[0]!.metadata).toMatchObject({ pii_types: ['email'], found_in: ['tool_arguments'] });
    });

    it(`block refuses it${stream ? ', streamed, before the query reaches the reader' : ''}`, async () => {
      blockType = 'server_tool_use';
      cut = false;
      args = query;
      const seen: unknown[] = [];
      const read = stream
        ? async () => {
            const s = await piiAnthropic(h, 'block').messages.create({ ...params, stream: true });
            for await (const e of s) seen.push(e);
          }
        : () => piiAnthropic(h, 'block').messages.create(params);
      await expect(read()).rejects.toBeInstanceOf(OutputBlockedError);
      expect(JSON.stringify(seen)).not.toMatch(/jane/);
    });
  }

  it('redact rewrites the query, plain and streamed', async () => {
    blockType = 'server_tool_use';
    cut = false;
    args = query;
    const m = await piiAnthropic(h, 'redact').messages.create(params);
    const b = m.content[1];
    expect(b?.type === 'server_tool_use' ? b.input : undefined).toEqual({ query: 'who is [REDACTED:email]' });
    const final = await piiAnthropic(h, 'redact').messages.stream(params).finalMessage();
    const s = final.content[1];
    expect(s?.type === 'server_tool_use' ? s.input : undefined).toEqual({ query: 'who is [REDACTED:email]' });
  });
});
