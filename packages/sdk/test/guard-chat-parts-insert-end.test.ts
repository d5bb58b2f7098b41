import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { instrumentClient } from '../src/instrumentation/index.ts';
import type { OutputGuard } from '../src/instrumentation/types.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import { chatCompletion } from './fixtures/chat-reply.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * A custom output guard's `modify` that adds text at the end of a chat answer whose `content` is
 * an array of parts (writeContentParts, chat-content-parts.ts). The rewrite goes back over the
 * parts by the common prefix and suffix of the old and new text; text added after the last
 * part's end is past every part's old end, so it was written into no part and dropped: an answer
 * sent as a string got the disclaimer, the same answer in parts did not.
 */

const BASE = { id: 'chatcmpl-e', created: 1, model: 'local-model' };
let content: unknown[] = [];

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/chat/completions')) return undefined;
  return { kind: 'json', body: chatCompletion(BASE, { content }, { logprobs: null }) };
}

const h = useInstrHarness({ script });

function guarded(rewrite: (text: string) => string): OpenAI {
  const guard: OutputGuard = {
    name: 'disclaimer',
    layer: 'output',
    checkResponse: (output) => ({ action: 'modify', text: rewrite(output.text) }),
  };
  return instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
    ...h.options(),
    guards: { output: [guard] },
  });
}

async function answer(rewrite: (text: string) => string): Promise<unknown> {
  const reply = await guarded(rewrite).chat.completions.create({
    model: 'local-model',
    messages: [{ role: 'user', content: 'hi' }],
  });
  return reply.choices[0]!.message.content;
}

describe('text a modify adds after the last part reaches the answer', () => {
  it('goes into the last text-bearing part, the others kept', async () => {
    content = [{ type: 'text', text: 'Hello ' }, { type: 'text', text: 'world' }, { type: 'image_url' }];
    expect(await answer((t) => `${t} [AI]`)).toEqual([
      { type: 'text', text: 'Hello ' },
      { type: 'text', text: 'world [AI]' },
      { type: 'image_url' },
    ]);
  });

  it('a refusal part last takes it too', async () => {
    content = [
      { type: 'text', text: 'No. ' },
      { type: 'refusal', refusal: 'I cannot' },
    ];
    expect(await answer((t) => `${t}.`)).toEqual([
      { type: 'text', text: 'No. ' },
      { type: 'refusal', refusal: 'I cannot.' },
    ]);
  });

  it('parts whose text is empty take what replaces it', async () => {
    content = [{ type: 'text', text: '' }, { type: 'image_url' }];
    expect(await answer(() => '[no answer]')).toEqual([
      { type: 'text', text: '[no answer]' },
      { type: 'image_url' },
    ]);
  });

  it('text added at the start and between parts still goes where it starts (unchanged)', async () => {
    content = [
      { type: 'text', text: 'Hello ' },
      { type: 'text', text: 'world' },
    ];
    expect(await answer((t) => `[AI] ${t}`)).toEqual([
      { type: 'text', text: '[AI] Hello ' },
      { type: 'text', text: 'world' },
    ]);
    expect(await answer((t) => t.replace(' w', ' dear w'))).toEqual([
      { type: 'text', text: 'Hello ' },
      { type: 'text', text: 'dear world' },
    ]);
  });
});
