import { describe, expect, it } from 'vitest';
import { redact } from '@llmsec/core';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';
import { piiOpenAI } from './fixtures/pii-guarded-client.ts';

/**
 * piiGuard redact on a chat stream with n = 2, through the real openai client: the choices'
 * chunks alternate, so choice 0's card arrives cut by a chunk of choice 1. The stream's text
 * was redacted as one ('4111 1111 Hello there 1111 1111...': no card) and the card reached the
 * reader raw; each choice is redacted on its own now (guards/pii-stream-lanes.ts).
 */

const A = ['My card is 4111 1111 ', '1111 1111 thanks', ' bye'];
const B = ['Hello there ', 'friend', ' ok'];

function script(req: FakeRequest): FakeResponse | undefined {
  if (req.body.stream === true && req.path.endsWith('/v1/completions')) return legacy();
  if (req.body.stream !== true || !req.path.endsWith('/chat/completions')) return undefined;
  const chunk = (choices: unknown[]) => ({
    data: { id: 'chatcmpl-n2', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices },
  });
  const delta = (index: number, content: string) => ({
    index,
    delta: { content },
    logprobs: null,
    finish_reason: null,
  });
  const stop = (index: number) => ({ index, delta: {}, logprobs: null, finish_reason: 'stop' });
  const role = (index: number) => ({
    index,
    delta: { role: 'assistant', content: '' },
    logprobs: null,
    finish_reason: null,
  });
  const events: Array<{ data: unknown }> = [chunk([role(0)]), chunk([role(1)])];
  for (let i = 0; i < A.length; i++) events.push(chunk([delta(0, A[i]!)]), chunk([delta(1, B[i]!)]));
  events.push(chunk([stop(0), stop(1)]), { data: '[DONE]' });
  return { kind: 'sse', events };
}

/** Legacy text completions (`POST /completions`): the choices' `text`, alternating as above. */
function legacy(): FakeResponse {
  const chunk = (index: number, text: string, finish: string | null = null) => ({
    data: {
      id: 'cmpl-n2',
      object: 'text_completion',
      created: 1,
      model: 'gpt-3.5-turbo-instruct',
      choices: [{ index, text, logprobs: null, finish_reason: finish }],
    },
  });
  const events: Array<{ data: unknown }> = [];
  for (let i = 0; i < A.length; i++) events.push(chunk(0, A[i]!), chunk(1, B[i]!));
  events.push(chunk(0, '', 'stop'), chunk(1, '', 'stop'), { data: '[DONE]' });
  return { kind: 'sse', events };
}

const h = useInstrHarness({ script });

const EXPECTED = [redact(A.join('')).text, B.join('')];

describe('a chat stream of two choices', () => {
  it("each choice's deltas join to redact of its own text", async () => {
    expect(EXPECTED[0]).toContain('[REDACTED:credit_card]');
    const s = await piiOpenAI(h, 'redact').chat.completions.create({
      model: 'gpt-4o-mini',
      n: 2,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const per = ['', ''];
    for await (const c of s) for (const ch of c.choices) per[ch.index] += ch.delta.content ?? '';
    expect(per).toEqual(EXPECTED);
    // The end check reads each choice's text whole (the adapter's summary), as non-streamed.
    const pii = h.recorded.filter((e) => e.category === 'pii_detected');
    expect(pii.map((e) => e.metadata)).toEqual([{ pii_types: ['credit_card'], direction: 'output' }]);
  });

  it('block mode: the stream is cut before any character of the card reaches the reader', async () => {
    // Block mode read the choices as one text too: the whole card reached the reader and the
    // stream was not cut. Each choice is checked on its own now (pii-block-lane.ts).
    const s = await piiOpenAI(h, 'block').chat.completions.create({
      model: 'gpt-4o-mini',
      n: 2,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const per = ['', ''];
    await expect(async () => {
      for await (const c of s) for (const ch of c.choices) per[ch.index] += ch.delta.content ?? '';
    }).rejects.toThrow(/blocked by output filter "pii"/);
    expect(per[0]).not.toContain('4111');
    const pii = h.recorded.filter((e) => e.category === 'pii_detected');
    expect(pii.map((e) => e.metadata)).toEqual([{ pii_types: ['credit_card'], direction: 'output' }]);
  });

  it('legacy completions.create, streamed with n = 2: each choice redacted on its own, pii_detected', async () => {
    const s = await piiOpenAI(h, 'redact').completions.create({
      model: 'gpt-3.5-turbo-instruct',
      n: 2,
      stream: true,
      prompt: 'hi',
    });
    const per = ['', ''];
    for await (const c of s) for (const ch of c.choices) per[ch.index] += ch.text;
    expect(per).toEqual(EXPECTED);
    const pii = h.recorded.filter((e) => e.category === 'pii_detected');
    expect(pii.map((e) => e.metadata)).toEqual([{ pii_types: ['credit_card'], direction: 'output' }]);
  });

  it("chat.completions.stream()'s final completion, per choice", async () => {
    const s = piiOpenAI(h, 'redact').chat.completions.stream({
      model: 'gpt-4o-mini',
      n: 2,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const done = await s.finalChatCompletion();
    expect(done.choices.map((c) => c.message.content)).toEqual(EXPECTED);
  });
});
