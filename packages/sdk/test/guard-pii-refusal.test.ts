import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { redact } from '@llmsec/core';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';
import { piiOpenAI } from './fixtures/pii-guarded-client.ts';
import { chatChunk, chatCompletion } from './fixtures/chat-reply.ts';

/**
 * A chat answer's `refusal` (structured outputs: the model declines in `message.refusal`,
 * `content` null) reaches the application as text, and a refusal can name what it declines to
 * share ("I can't give out jane.doe@example.com's records"). The output guards never read it:
 * an address there passed redact, block and detect. Now it is read as a text of its own, beside
 * the answer (output-texts.ts), and written back redacted; streamed, the end check reads each
 * choice's refusal, and a `redact` stream delivers it redacted whole with the choice's finish
 * (before, its pieces went out as sent).
 */

const EMAIL = 'jane.doe@example.com';
const REFUSAL = `I can't give out ${EMAIL}'s records.`;
const CLEAN = "I can't help with that request, sorry.";

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/chat/completions')) return undefined;
  const base = { id: 'chatcmpl-r', created: 1, model: 'gpt-4o-mini' };
  const refusal = JSON.stringify(req.body).includes('clean') ? CLEAN : REFUSAL;
  if (req.body.stream === true) {
    const chunk = (delta: unknown, finish: string | null = null) => chatChunk(base, delta, finish);
    return {
      kind: 'sse',
      events: [
        chunk({ role: 'assistant', content: null, refusal: refusal.slice(0, 20) }),
        chunk({ refusal: refusal.slice(20) }),
        chunk({}, 'stop'),
        { data: '[DONE]' },
      ],
    };
  }
  return {
    kind: 'json',
    body: chatCompletion(
      base,
      { content: null, refusal: REFUSAL },
      {
        // The refusal's tokens repeat it (logprobs.ts): removed with the rewrite.
        logprobs: {
          content: null,
          refusal: [{ token: EMAIL, logprob: -0.1, bytes: null, top_logprobs: [] }],
        },
      },
    ),
  };
}

const h = useInstrHarness({ script });

const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };
const piiEvents = () => h.recorded.filter((e) => e.category === 'pii_detected');

describe("a chat answer's refusal is read by the output guards", () => {
  it('redact: the refusal is redacted as a text of its own, one pii_detected', async () => {
    h.recorded.length = 0;
    const r = await piiOpenAI(h, 'redact').chat.completions.create(ask);
    expect(r.choices[0]!.message.refusal).toBe(redact(REFUSAL).text);
    expect(r.choices[0]!.message.content).toBeNull();
    expect(JSON.stringify(r)).not.toContain('jane.doe');
    expect(r.choices[0]!.logprobs).toBeNull();
    expect(piiEvents()).toHaveLength(1);
  });

  it('block: an address in the refusal blocks the response', async () => {
    await expect(piiOpenAI(h, 'block').chat.completions.create(ask)).rejects.toBeInstanceOf(
      OutputBlockedError,
    );
  });

  it("streamed, redact: the refusal's pieces reach the reader redacted (chunks and the stream helper)", async () => {
    h.recorded.length = 0;
    const stream = await piiOpenAI(h, 'redact').chat.completions.create({ ...ask, stream: true });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(JSON.stringify(chunks)).not.toMatch(/jane|e@example|example\.com/);
    expect(chunks.map((c) => c.choices[0]?.delta.refusal ?? '').join('')).toBe(redact(REFUSAL).text);
    expect(piiEvents()).toHaveLength(1);
    // openai's ChatCompletionStream builds its final message from the rewritten chunks.
    const helper = piiOpenAI(h, 'redact').chat.completions.stream(ask);
    const final = await helper.finalChatCompletion();
    expect(final.choices[0]!.message.refusal).toBe(redact(REFUSAL).text);
  });

  it('streamed, block: no refusal piece reaches the reader before the end check blocks', async () => {
    const stream = await piiOpenAI(h, 'block').chat.completions.create({ ...ask, stream: true });
    const chunks: unknown[] = [];
    const read = (async () => {
      for await (const c of stream) chunks.push(c);
    })();
    await expect(read).rejects.toBeInstanceOf(OutputBlockedError);
    expect(JSON.stringify(chunks)).not.toMatch(/jane|e@example|example\.com/);
  });

  it('streamed, block, a refusal with no finding: held to the end, then every chunk delivered in order', async () => {
    const clean = instrumentClient(
      new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      { ...h.options(), guards: { output: [piiGuard({ mode: 'block', directions: ['output'] })] } },
    );
    const stream = await clean.chat.completions.create({
      ...ask,
      stream: true,
      messages: [{ role: 'user', content: 'clean' }],
    });
    const pieces: string[] = [];
    for await (const c of stream) pieces.push(c.choices[0]?.delta.refusal ?? '');
    expect(pieces.join('')).toBe(CLEAN);
    expect(pieces).toHaveLength(3);
  });

  it("streamed, detect: the end check reads the refusal's pieces joined", async () => {
    h.recorded.length = 0;
    const stream = await piiOpenAI(h, 'detect').chat.completions.create({ ...ask, stream: true });
    for await (const _ of stream);
    expect(piiEvents()).toHaveLength(1);
  });
});
