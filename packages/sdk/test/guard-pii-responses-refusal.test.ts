import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { redact } from '@llmsec/core';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';
import { piiOpenAI } from './fixtures/pii-guarded-client.ts';

/**
 * A Responses answer's `refusal` content part (the model declines: `{type: 'refusal', refusal}`
 * in a message item; streamed, `response.refusal.delta` / `.done` events) reaches the app as text
 * and can name what it declines to share. No output guard read it: an address there passed
 * redact, block and detect, streamed or not. Through openai 7 against the fake server.
 */

const EMAIL = 'jane.doe@example.com';
const REFUSAL = `I can't share ${EMAIL}'s records.`;
const CUT = 22; // inside the address: the deltas cut it
const leaks = (v: unknown) => /jane|e@example|example\.com/.test(JSON.stringify(v));

function message(refusal: string, status = 'completed') {
  return {
    id: 'msg_r',
    type: 'message',
    role: 'assistant',
    status,
    content: [{ type: 'refusal', refusal }],
  };
}

function response(status: string, output: unknown[]) {
  return {
    id: 'resp_r',
    object: 'response',
    created_at: 1,
    model: 'gpt-4o-mini',
    status,
    output,
    usage: { input_tokens: 3, output_tokens: 5, total_tokens: 8 },
  };
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/responses')) return undefined;
  if (req.body.stream !== true) return { kind: 'json', body: response('completed', [message(REFUSAL)]) };
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, sequence_number: seq++, ...data },
  });
  const at = { item_id: 'msg_r', output_index: 0, content_index: 0 };
  const start = [
    ev('response.created', { response: response('in_progress', []) }),
    ev('response.output_item.added', {
      output_index: 0,
      item: { ...message('', 'in_progress'), content: [] },
    }),
    ev('response.content_part.added', { ...at, part: { type: 'refusal', refusal: '' } }),
  ];
  const deltas = [
    ev('response.refusal.delta', { ...at, delta: REFUSAL.slice(0, CUT) }),
    ev('response.refusal.delta', { ...at, delta: REFUSAL.slice(CUT) }),
  ];
  const end = [
    ev('response.refusal.done', { ...at, refusal: REFUSAL }),
    ev('response.content_part.done', { ...at, part: { type: 'refusal', refusal: REFUSAL } }),
    ev('response.output_item.done', { output_index: 0, item: message(REFUSAL) }),
    ev('response.completed', { response: response('completed', [message(REFUSAL)]) }),
  ];
  // 'cut': the connection ends inside the refusal (no done event, no terminal response);
  // 'no deltas': the refusal comes whole in its done events only.
  if (req.body.input === 'cut') return { kind: 'sse', events: [...start, ...deltas] };
  if (req.body.input === 'no deltas') return { kind: 'sse', events: [...start, ...end] };
  // 'part only': the refusal whole in its part's and item's done events only, the stream cut
  // before its terminal response.
  if (req.body.input === 'part only') return { kind: 'sse', events: [...start, end[1]!, end[2]!] };
  return { kind: 'sse', events: [...start, ...deltas, ...end] };
}

const h = useInstrHarness({ script });

const ask = { model: 'gpt-4o-mini', input: 'hi' };
const piiEvents = () => h.recorded.filter((e) => e.category === 'pii_detected');

function refusalOf(r: OpenAI.Responses.Response): string | undefined {
  const item = r.output[0];
  const part = item?.type === 'message' ? item.content[0] : undefined;
  return part?.type === 'refusal' ? part.refusal : undefined;
}

describe('Responses refusal parts are read by the output guards', () => {
  it('not streamed, redact: the refusal part is redacted, one pii_detected', async () => {
    h.recorded.length = 0;
    const r = await piiOpenAI(h, 'redact').responses.create(ask);
    expect(refusalOf(r)).toBe(redact(REFUSAL).text);
    expect(leaks(r)).toBe(false);
    expect(piiEvents()).toHaveLength(1);
  });

  it('not streamed, block: the response is blocked', async () => {
    await expect(piiOpenAI(h, 'block').responses.create(ask)).rejects.toBeInstanceOf(OutputBlockedError);
  });

  it('streamed, redact: no event carries the address; the final response is redacted', async () => {
    h.recorded.length = 0;
    const s = piiOpenAI(h, 'redact').responses.stream(ask);
    const events = [];
    let deltas = '';
    for await (const e of s) {
      events.push(e);
      if (e.type === 'response.refusal.delta') deltas += e.delta;
    }
    const final = await s.finalResponse();
    expect(leaks(events)).toBe(false);
    expect(leaks(final)).toBe(false);
    expect(refusalOf(final)).toBe(redact(REFUSAL).text);
    const done = events.find((e) => e.type === 'response.refusal.done');
    expect(done?.type === 'response.refusal.done' ? done.refusal : undefined).toBe(redact(REFUSAL).text);
    expect(deltas).toBe('');
    expect(piiEvents()).toHaveLength(1);
  });

  it('streamed, block: no refusal piece reaches the reader before the end check blocks', async () => {
    const s = await piiOpenAI(h, 'block').responses.create({ ...ask, stream: true });
    const events: unknown[] = [];
    const read = (async () => {
      for await (const e of s) events.push(e);
    })();
    await expect(read).rejects.toBeInstanceOf(OutputBlockedError);
    expect(leaks(events)).toBe(false);
  });

  // A stream cut inside the refusal: the end check read only refusal.done texts, so it passed
  // and block mode released the held refusal.delta pieces, address and all (detect: no event).
  it('streamed, cut inside the refusal, block: the held pieces are not released', async () => {
    const s = await piiOpenAI(h, 'block').responses.create({ ...ask, input: 'cut', stream: true });
    const events: unknown[] = [];
    const read = (async () => {
      for await (const e of s) events.push(e);
    })();
    await expect(read).rejects.toBeInstanceOf(OutputBlockedError);
    expect(leaks(events)).toBe(false);
  });

  it('streamed, cut inside the refusal, detect: the end check reads the pieces', async () => {
    h.recorded.length = 0;
    const s = await piiOpenAI(h, 'detect').responses.create({ ...ask, input: 'cut', stream: true });
    for await (const _ of s);
    expect(piiEvents()).toHaveLength(1);
  });

  // No refusal.delta: the hold started at the first delta only, so refusal.done went out with
  // the address before the end check blocked.
  it('streamed, no refusal deltas, block: refusal.done is held until the end check', async () => {
    const s = await piiOpenAI(h, 'block').responses.create({ ...ask, input: 'no deltas', stream: true });
    const events: unknown[] = [];
    const read = (async () => {
      for await (const e of s) events.push(e);
    })();
    await expect(read).rejects.toBeInstanceOf(OutputBlockedError);
    expect(leaks(events)).toBe(false);
    expect(events.length).toBeGreaterThan(0); // the events before the refusal were delivered
  });

  // A refusal part sent whole (no refusal events) only marked the stream as refusing: the end
  // check of a stream cut before its terminal response never read it, in detect mode nor block.
  it('streamed, the refusal whole in its part only, cut before the terminal event, detect: the end check reads it', async () => {
    h.recorded.length = 0;
    const s = await piiOpenAI(h, 'detect').responses.create({ ...ask, input: 'part only', stream: true });
    for await (const _ of s);
    expect(piiEvents()).toHaveLength(1);
  });

  it('streamed, the refusal whole in its part only, cut before the terminal event, block: blocked, nothing leaks', async () => {
    const s = await piiOpenAI(h, 'block').responses.create({ ...ask, input: 'part only', stream: true });
    const events: unknown[] = [];
    const read = (async () => {
      for await (const e of s) events.push(e);
    })();
    await expect(read).rejects.toBeInstanceOf(OutputBlockedError);
    expect(leaks(events)).toBe(false);
  });

  it('streamed, detect: the end check reads the refusal', async () => {
    h.recorded.length = 0;
    const s = await piiOpenAI(h, 'detect').responses.create({ ...ask, stream: true });
    for await (const _ of s);
    expect(piiEvents()).toHaveLength(1);
  });
});
