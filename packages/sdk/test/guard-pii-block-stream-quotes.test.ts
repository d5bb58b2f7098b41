import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * piiGuard block on a stream whose quotes carry an address: a chat chunk's `annotations`, an
 * Anthropic `citations_delta`, a Responses `output_text.annotation.added`. The end check read
 * them and blocked, but only after the item carrying them had been delivered: the address the
 * block should have withheld was out already. Now a quote is checked whole before its item
 * reaches the reader, and a finding cuts the stream there. Through openai 7 and
 * @anthropic-ai/sdk against the fake server.
 */

const EMAIL = 'jane.doe@example.com';
/** Text after the quote, long enough for block mode's next check (every 32 characters) to release what came before it. */
const AFTER = ' More text after the quote, and then some more words to read.';
const leaks = (v: unknown) => /jane|e@example|example\.com/.test(JSON.stringify(v));

function chat(): FakeResponse {
  const chunk = (delta: unknown, finish: string | null = null) => ({
    data: {
      id: 'chatcmpl-q',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    },
  });
  const annotations = [
    {
      type: 'url_citation',
      url_citation: { start_index: 0, end_index: 3, title: `Contact ${EMAIL}`, url: 'https://example.org/' },
    },
  ];
  return {
    kind: 'sse',
    events: [
      chunk({ role: 'assistant', content: 'See the team page.' }),
      chunk({ annotations }),
      chunk({ content: AFTER }),
      chunk({}, 'stop'),
      { data: '[DONE]' },
    ],
  };
}

function anthropic(): FakeResponse {
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, ...data },
  });
  const citation = {
    type: 'char_location',
    cited_text: `Write to ${EMAIL}.`,
    document_index: 0,
    document_title: 'Staff',
    start_char_index: 0,
    end_char_index: 10,
  };
  return {
    kind: 'sse',
    events: [
      ev('message_start', {
        message: {
          id: 'msg_q',
          type: 'message',
          role: 'assistant',
          model: 'claude-haiku-4-5',
          content: [],
          stop_reason: null,
          usage: { input_tokens: 1, output_tokens: 1 },
        },
      }),
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'The staff page.' } }),
      ev('content_block_stop', { index: 0 }),
      ev('content_block_start', { index: 1, content_block: { type: 'text', text: '', citations: [] } }),
      ev('content_block_delta', { index: 1, delta: { type: 'citations_delta', citation } }),
      ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: AFTER } }),
      ev('content_block_stop', { index: 1 }),
      ev('message_delta', {
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: 4 },
      }),
      ev('message_stop', {}),
    ],
  };
}

/**
 * 'failed': the terminal response does not repeat the part; 'parts only': no annotation.added,
 * the annotation comes in the part's and item's done events only; 'parts only, cut': and no
 * terminal response.
 */
function responses(variant: string): FakeResponse {
  const terminalWithout = variant === 'failed';
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, sequence_number: seq++, ...data },
  });
  const annotation = {
    type: 'url_citation',
    start_index: 0,
    end_index: 3,
    title: `Contact ${EMAIL}`,
    url: 'https://x.org/',
  };
  const part = (text: string, annotations: unknown[]) => ({
    type: 'output_text',
    text,
    annotations,
    logprobs: [],
  });
  const item = (text: string, status: string) => ({
    id: 'msg_q',
    type: 'message',
    role: 'assistant',
    status,
    content: text.length === 0 ? [] : [part(text, [annotation])],
  });
  const response = (status: string, output: unknown[]) => ({
    id: 'resp_q',
    object: 'response',
    created_at: 1,
    model: 'gpt-4o-mini',
    status,
    output,
    usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 },
  });
  const at = { item_id: 'msg_q', output_index: 0, content_index: 0 };
  if (variant.startsWith('parts only')) {
    // The annotation in the first item's done events, then a second item whose text releases them.
    const first = 'See the page.';
    const at1 = { item_id: 'msg_2', output_index: 1, content_index: 0 };
    const second = { ...item(AFTER, 'completed'), id: 'msg_2', content: [part(AFTER, [])] };
    const events = [
      ev('response.created', { response: response('in_progress', []) }),
      ev('response.output_item.added', { output_index: 0, item: item('', 'in_progress') }),
      ev('response.content_part.added', { ...at, part: part('', []) }),
      ev('response.output_text.delta', { ...at, delta: first, logprobs: [] }),
      ev('response.output_text.done', { ...at, text: first, logprobs: [] }),
      ev('response.content_part.done', { ...at, part: part(first, [annotation]) }),
      ev('response.output_item.done', { output_index: 0, item: item(first, 'completed') }),
      ev('response.output_item.added', { output_index: 1, item: { ...second, content: [] } }),
      ev('response.content_part.added', { ...at1, part: part('', []) }),
      ev('response.output_text.delta', { ...at1, delta: AFTER, logprobs: [] }),
      ev('response.output_text.done', { ...at1, text: AFTER, logprobs: [] }),
      ev('response.content_part.done', { ...at1, part: part(AFTER, []) }),
      ev('response.output_item.done', { output_index: 1, item: second }),
    ];
    if (variant === 'parts only')
      events.push(
        ev('response.completed', { response: response('completed', [item(first, 'completed'), second]) }),
      );
    return { kind: 'sse', events };
  }
  const text = `See the page.${AFTER}`;
  return {
    kind: 'sse',
    events: [
      ev('response.created', { response: response('in_progress', []) }),
      ev('response.output_item.added', { output_index: 0, item: item('', 'in_progress') }),
      ev('response.content_part.added', { ...at, part: part('', []) }),
      ev('response.output_text.delta', { ...at, delta: 'See the page.', logprobs: [] }),
      ev('response.output_text.annotation.added', { ...at, annotation_index: 0, annotation }),
      ev('response.output_text.delta', { ...at, delta: AFTER, logprobs: [] }),
      ev('response.output_text.done', { ...at, text, logprobs: [] }),
      ev('response.content_part.done', { ...at, part: part(text, [annotation]) }),
      ev('response.output_item.done', { output_index: 0, item: item(text, 'completed') }),
      // terminalWithout: the terminal response does not repeat the part (a failed response).
      terminalWithout
        ? ev('response.failed', { response: response('failed', []) })
        : ev('response.completed', { response: response('completed', [item(text, 'completed')]) }),
    ],
  };
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (req.path.endsWith('/chat/completions')) return chat();
  if (req.path === '/v1/messages') return anthropic();
  if (req.path.endsWith('/v1/responses')) return responses(String(req.body.input));
  return undefined;
}

const h = useInstrHarness({ script });

function options() {
  return { ...h.options(), guards: { output: [piiGuard({ mode: 'block', directions: ['output'] })] } };
}

async function readAll(stream: AsyncIterable<unknown>): Promise<{ got: unknown[]; err: unknown }> {
  const got: unknown[] = [];
  try {
    for await (const x of stream) got.push(x);
  } catch (err) {
    return { got, err };
  }
  return { got, err: undefined };
}

describe('block mode: a quote with a finding cuts the stream before its item is delivered', () => {
  it('chat: the annotation chunk never reaches the reader', async () => {
    h.recorded.length = 0;
    const c = instrumentClient(
      new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      options(),
    );
    const s = await c.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const { got, err } = await readAll(s);
    expect(err).toBeInstanceOf(OutputBlockedError);
    expect(leaks(got)).toBe(false);
    expect(h.recorded.filter((e) => e.category === 'pii_detected')).toHaveLength(1);
  });

  it('Anthropic: the citations_delta never reaches the reader', async () => {
    const c = instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }), options());
    const s = await c.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 50,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const { got, err } = await readAll(s);
    expect(err).toBeInstanceOf(OutputBlockedError);
    expect(leaks(got)).toBe(false);
  });

  it('Responses: the annotation.added event never reaches the reader', async () => {
    const c = instrumentClient(
      new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      options(),
    );
    const s = await c.responses.create({ model: 'gpt-4o-mini', input: 'hi', stream: true });
    const { got, err } = await readAll(s);
    expect(err).toBeInstanceOf(OutputBlockedError);
    expect(leaks(got)).toBe(false);
  });
});

// The end check read annotation.added quotes only when no terminal event came: a terminal
// response that does not repeat the part (failed, incomplete) left the delivered quote unread.
describe('detect mode: a delivered quote the terminal response does not repeat', () => {
  it('Responses: the annotation.added quote is read by the end check', async () => {
    h.recorded.length = 0;
    const c = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
      ...h.options(),
      guards: { output: [piiGuard({ mode: 'detect', directions: ['output'] })] },
    });
    const s = await c.responses.create({ model: 'gpt-4o-mini', input: 'failed', stream: true });
    for await (const _ of s);
    expect(h.recorded.filter((e) => e.category === 'pii_detected')).toHaveLength(1);
  });
});

// A server that sends no annotation.added: the annotation came only in content_part.done and
// output_item.done, read by no check before delivery (the end check blocked after, on the
// terminal response), and never when the stream was cut before that response.
describe('Responses annotations in done events only', () => {
  const responsesClient = (mode: 'block' | 'detect') =>
    instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
      ...h.options(),
      guards: { output: [piiGuard({ mode, directions: ['output'] })] },
    });

  it('block: the done event carrying the annotation never reaches the reader', async () => {
    const s = await responsesClient('block').responses.create({
      model: 'gpt-4o-mini',
      input: 'parts only',
      stream: true,
    });
    const { got, err } = await readAll(s);
    expect(err).toBeInstanceOf(OutputBlockedError);
    expect(leaks(got)).toBe(false);
  });

  it('detect, cut before the terminal response: one pii_detected', async () => {
    h.recorded.length = 0;
    const s = await responsesClient('detect').responses.create({
      model: 'gpt-4o-mini',
      input: 'parts only, cut',
      stream: true,
    });
    for await (const _ of s);
    expect(h.recorded.filter((e) => e.category === 'pii_detected')).toHaveLength(1);
  });
});
