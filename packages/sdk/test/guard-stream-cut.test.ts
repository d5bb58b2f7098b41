import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { OutputBlockedError, instrumentClient } from '../src/instrumentation/index.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';

/**
 * The output side's counterpart of guard-cross-part.test.ts: a streamed response cuts its
 * text into chunks anywhere (the fake server streams 8 characters a chunk), and the chunk
 * checks see across the cuts (piiGuard block mode checks each step with the text before it,
 * stream-state per call). An email cut at each of the eight offsets a chunk can cut it at is
 * found and the stream is cut before the chunk completing it reaches the reader, on the OpenAI
 * chat, Responses and Anthropic streams. The check after each 32 characters found no address
 * yet and used to release everything before the completing chunk ('jane.doe@example' reached
 * the reader); it now holds what may be the start of a finding (pii-hold.ts), so none of the
 * address is delivered. Every cut offset, more finding types: guard-stream-pii-hold.test.ts.
 */

const h = useInstrHarness();
const EMAIL = 'jane.doe@example.com';

type Api = 'chat' | 'responses' | 'anthropic';

async function read(api: Api, prompt: string): Promise<{ text: string; err: unknown }> {
  const options = {
    ...h.options(),
    guards: { output: [piiGuard({ mode: 'block', directions: ['output'] })] },
  };
  let text = '';
  const err = await (async () => {
    if (api === 'anthropic') {
      const c = instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }), options);
      const s = await c.messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 200,
        stream: true,
        messages: [{ role: 'user', content: prompt }],
      });
      for await (const e of s)
        if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') text += e.delta.text;
      return undefined;
    }
    const c = instrumentClient(
      new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      options,
    );
    if (api === 'chat') {
      const s = await c.chat.completions.create({
        model: 'gpt-4o-mini',
        stream: true,
        messages: [{ role: 'user', content: prompt }],
      });
      for await (const chunk of s) text += chunk.choices[0]?.delta.content ?? '';
      return undefined;
    }
    const s = await c.responses.create({ model: 'gpt-4o-mini', stream: true, input: prompt });
    for await (const e of s) if (e.type === 'response.output_text.delta') text += e.delta;
    return undefined;
  })().catch((e: unknown) => e);
  return { text, err };
}

describe('streamed output: an email cut across chunks', () => {
  for (const api of ['chat', 'responses', 'anthropic'] as const) {
    it(`${api}: at every offset of the 8-character chunks, the stream is cut and the address never reaches the reader whole`, async () => {
      for (let pad = 0; pad < 8; pad++) {
        const prompt = `${'p'.repeat(pad)} write to ${EMAIL} and then a few more words to fill the stream out`;
        const { text, err } = await read(api, prompt);
        expect(err, `pad ${pad}`).toBeInstanceOf(OutputBlockedError);
        expect(text, `pad ${pad}`).not.toContain(EMAIL);
        // Not a piece of it either: the text stops before the address.
        expect(text, `pad ${pad}`).not.toContain('jane');
        // Nothing after the address was delivered either.
        expect(text, `pad ${pad}`).not.toContain('few more words');
      }
    });
  }
});
