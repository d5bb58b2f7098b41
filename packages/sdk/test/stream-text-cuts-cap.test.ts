import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { anthropicMessagesAdapter } from '../src/instrumentation/anthropic-messages.ts';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { openaiResponsesAdapter } from '../src/instrumentation/openai-responses.ts';
import { StreamLimitError } from '../src/instrumentation/stream-limit.ts';
import { MAX_TEXT_CUTS } from '../src/instrumentation/text-cuts.ts';
import { anthropicEvent, anthropicStream } from './fixtures/anthropic-reply.ts';
import { eventually, sseScript, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiAnthropic, piiOpenAI } from './fixtures/pii-guarded-client.ts';
import { responseBody, responseEvents } from './fixtures/responses-reply.ts';
import type { SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * A Responses or Anthropic stream's accumulator records where its answer changes part (an
 * output_text part, a text block) for the end check, which reads the parts apart too
 * (OutputTexts.cuts): one number per change. Before, nothing bounded them but the text cap (32 Mi
 * characters): a stream alternating two parts with 1-character deltas recorded one number per
 * delta. Now past MAX_TEXT_CUTS a guarded stream is cut at the delta that would record one more
 * (StreamLimitError: an OutputBlockedError, filter stream_limit, for the reader), and an unguarded
 * one records no more and goes on. Counts, not memory: the number of cuts recorded.
 */

const REASON = `stream_limit: more than ${MAX_TEXT_CUTS} text part changes`;

/** A Responses delta of one character, of part `i % 2` (two parts, alternating). */
function responsesDelta(i: number): Record<string, unknown> {
  return {
    type: 'response.output_text.delta',
    item_id: 'msg',
    output_index: 0,
    content_index: i % 2,
    delta: 'x',
  };
}

/** An Anthropic text delta of one character, of block `i % 2`. */
function anthropicDelta(i: number): Record<string, unknown> {
  return { type: 'content_block_delta', index: i % 2, delta: { type: 'text_delta', text: 'x' } };
}

const ADAPTERS = [
  ['Responses', openaiResponsesAdapter, responsesDelta],
  ['Anthropic', anthropicMessagesAdapter, anthropicDelta],
] as const;

describe.each(ADAPTERS)('%s: the part changes an accumulator records', (_name, adapter, delta) => {
  it(`a guarded stream is cut at the delta that would record change ${MAX_TEXT_CUTS + 1}`, () => {
    const acc = adapter.newStream(undefined, true);
    // The first delta starts the answer (no change); each next one changes part.
    for (let i = 0; i <= MAX_TEXT_CUTS; i++) acc.observe(delta(i));
    expect(acc.summary().cuts).toHaveLength(MAX_TEXT_CUTS);
    let err: unknown;
    try {
      acc.observe(delta(MAX_TEXT_CUTS + 1));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StreamLimitError);
    expect((err as StreamLimitError).reason).toBe(REASON);
  });

  it('an unguarded stream goes on and records no more', () => {
    const acc = adapter.newStream(undefined, false);
    const n = 2 * MAX_TEXT_CUTS;
    for (let i = 0; i <= n; i++) acc.observe(delta(i));
    const s = acc.summary();
    expect(s.text.length).toBe(n + 1);
    expect(s.cuts).toHaveLength(MAX_TEXT_CUTS);
  });

  it('a few parts are recorded as before', () => {
    const acc = adapter.newStream(undefined, true);
    for (let i = 0; i < 4; i++) acc.observe(delta(i));
    expect(acc.summary().cuts).toEqual([1, 2, 3]);
  });
});

// --- through the real clients: the reader gets the block ---

let events: SseEvent[] = [];

const h = useInstrHarness({ script: sseScript(() => events) });

function responsesStream(changes: number): SseEvent[] {
  const ev = responseEvents();
  const out: SseEvent[] = [
    ev('response.created', { response: responseBody('resp_cuts', 'gpt-4o', 'in_progress', []) }),
  ];
  for (let i = 0; i <= changes; i++) {
    const { type: _type, ...rest } = responsesDelta(i);
    out.push(ev('response.output_text.delta', rest));
  }
  out.push(ev('response.completed', { response: responseBody('resp_cuts', 'gpt-4o', 'completed', []) }));
  return out;
}

function anthropicChanges(changes: number): SseEvent[] {
  const blocks: SseEvent[] = [0, 1].map((index) =>
    anthropicEvent('content_block_start', { index, content_block: { type: 'text', text: '' } }),
  );
  for (let i = 0; i <= changes; i++) {
    const { type: _type, ...rest } = anthropicDelta(i);
    blocks.push(anthropicEvent('content_block_delta', rest));
  }
  return anthropicStream(
    { id: 'msg_cuts', model: 'claude-sonnet-4-5', usage: { input_tokens: 1, output_tokens: 1 } },
    blocks,
  );
}

async function read(client: 'responses' | 'anthropic', script: SseEvent[]) {
  events = script;
  let err: unknown;
  let got = 0;
  try {
    if (client === 'anthropic') {
      const c: Anthropic = piiAnthropic(h, 'block');
      const s = await c.messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      });
      for await (const e of s) if (e.type === 'content_block_delta') got++;
    } else {
      const c: OpenAI = piiOpenAI(h, 'block');
      const s = await c.responses.create({ model: 'gpt-4o', input: 'x', stream: true });
      for await (const e of s) if (e.type === 'response.output_text.delta') got++;
    }
  } catch (e) {
    err = e;
  }
  // A bound on a hang, not a measure: the event is recorded after the read ends.
  await eventually(() => h.recorded.some((e) => e.category === 'request_completed'), 60_000);
  return { err, got };
}

describe.each(['responses', 'anthropic'] as const)('a guarded %s stream past the cap', (client) => {
  it('is cut as a block with filter stream_limit, the delta past the cap not delivered', async () => {
    const changes = MAX_TEXT_CUTS + 1;
    const r = await read(
      client,
      client === 'responses' ? responsesStream(changes) : anthropicChanges(changes),
    );
    expect(r.err).toBeInstanceOf(OutputBlockedError);
    expect((r.err as OutputBlockedError).filter).toBe('stream_limit');
    expect((r.err as OutputBlockedError).reason).toBe(REASON);
    // block mode holds text back behind its check; never more than the deltas before the cut.
    expect(r.got).toBeLessThanOrEqual(MAX_TEXT_CUTS + 1);
    const blocks = h.recorded.filter((e) => e.category === 'output_filter_block');
    expect(blocks.map((e) => e.metadata?.filter_name)).toEqual(['stream_limit']);
  });
});
