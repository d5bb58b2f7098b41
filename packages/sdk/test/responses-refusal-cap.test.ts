import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { openaiResponsesAdapter } from '../src/instrumentation/openai-responses.ts';
import { StreamLimitError } from '../src/instrumentation/stream-limit.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * The cap on a Responses stream's refusal state (e48f6f6: 1,024 parts). Past it e48f6f6 joined
 * every further part's pieces into one entry, so two parts sent interleaved were read mixed: an
 * address in one part with the other part's piece inside it was not found by the end check
 * (detect mode's only read) while the reader, reading each part, had it whole. Now the piece
 * naming a 1,025th part cuts the stream (fail closed), reported as a block, as a chat stream
 * past 1,024 choices is. Unit: the accumulator as call-stream.ts uses it; through openai 7.
 */

const delta = (oi: number, d: string) => ({
  type: 'response.refusal.delta',
  output_index: oi,
  content_index: 0,
  delta: d,
});

describe('Responses stream: refusal parts past 1,024', () => {
  it('1,024 parts are kept apart and read; a tracked part goes on past the cap; a 1,025th throws', () => {
    const acc = openaiResponsesAdapter.newStream({});
    const pieces: string[] = [];
    for (let i = 0; i < 1024; i++) {
      const p = String.fromCharCode(97 + (i % 26));
      pieces.push(p);
      expect(acc.observe(delta(i, p))).toBe('');
    }
    acc.observe(delta(5, 'more'));
    acc.observe({ type: 'response.refusal.done', output_index: 7, content_index: 0, refusal: 'whole' });
    // A refusal's pieces are held to the end check (not the chunk checks' text).
    expect(acc.unchecked).toBe(true);
    const side = acc.summary().side ?? [];
    expect(side).toHaveLength(1024);
    expect(side[5]).toBe(`${pieces[5]}more`);
    expect(side[7]).toBe('whole');
    expect(() => acc.observe(delta(2000, 'x'))).toThrow(StreamLimitError);
  });

  it('on a stream no output guard reads, a 1,025th part is left out of the summary, not cut', () => {
    const acc = openaiResponsesAdapter.newStream({}, false);
    for (let i = 0; i < 1024; i++) acc.observe(delta(i, 'r'));
    expect(acc.observe(delta(2000, 'x'))).toBe('');
    expect(acc.summary().side).toHaveLength(1024);
  });

  const EMAIL = 'jane.doe@example.com';
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, sequence_number: seq++, ...data },
  });
  const response = (status: string) => ({
    id: 'resp_c',
    object: 'response',
    created_at: 1,
    model: 'gpt-4o-mini',
    status,
    output: [],
    usage: { input_tokens: 3, output_tokens: 5, total_tokens: 8 },
  });
  function script(req: FakeRequest): FakeResponse | undefined {
    if (!req.path.endsWith('/v1/responses')) return undefined;
    const events: SseEvent[] = [ev('response.created', { response: response('in_progress') })];
    for (let i = 0; i < 1024; i++)
      events.push(ev('response.refusal.delta', { ...delta(i, 'r'), item_id: 'm' }));
    // Two parts past the cap, interleaved: the first is the address, the second's piece inside it.
    const a = { item_id: 'm', output_index: 2000, content_index: 0 };
    const b = { item_id: 'm', output_index: 2001, content_index: 0 };
    events.push(
      ev('response.refusal.delta', { ...a, delta: EMAIL.slice(0, 13) }),
      ev('response.refusal.delta', { ...b, delta: ' ' }),
      ev('response.refusal.delta', { ...a, delta: EMAIL.slice(13) }),
      ev('response.completed', { response: response('completed') }),
    );
    return { kind: 'sse', events };
  }
  const h = useInstrHarness({ script });

  it('through openai 7, detect: the stream is cut at the 1,025th part, reported as a block', async () => {
    const c = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
      ...h.options(),
      guards: { output: [piiGuard({ mode: 'detect', directions: ['output'] })] },
    });
    const s = await c.responses.create({ model: 'gpt-4o-mini', input: 'hi', stream: true });
    let pieces = '';
    const err = await (async () => {
      for await (const e of s) if (e.type === 'response.refusal.delta') pieces += e.delta;
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OutputBlockedError);
    expect((err as OutputBlockedError).filter).toBe('stream_limit');
    // The piece naming the 1,025th part was never delivered.
    expect(pieces).toBe('r'.repeat(1024));
    await eventually(() => h.recorded.some((e) => e.category === 'request_completed'));
    const blocks = h.recorded.filter((e) => e.category === 'output_filter_block');
    expect(blocks.map((e) => e.metadata?.filter_name)).toEqual(['stream_limit']);
    expect(
      h.recorded.filter((e) => e.category === 'request_completed').map((e) => e.metadata?.outcome),
    ).toEqual(['blocked']);
  });
});
