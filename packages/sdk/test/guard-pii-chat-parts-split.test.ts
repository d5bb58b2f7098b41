import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, piiOpenAI } from './fixtures/pii-guarded-client.ts';
import { chatChunk, chatCompletion } from './fixtures/chat-reply.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * A complete chat answer whose `content` parts cut an address in two (chat-content-parts.ts).
 * A reader shows the parts back to back, so the address is whole on screen; read as one text per
 * part, neither half was an address and it passed detect, block and redact, while the same
 * parts streamed (one lane per choice) were caught.
 */

const PARTS = ['Here is the contact: jane.doe@exa', 'mple.com for it. ', 'Bye.'];
const BASE = { id: 'chatcmpl-s', created: 1, model: 'local-model' };

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/chat/completions')) return undefined;
  const parts = PARTS.map((text) => ({ type: 'text', text }));
  if (req.body.stream !== true)
    return {
      kind: 'json',
      body: chatCompletion(BASE, { content: [...parts, { type: 'image_url' }] }, { logprobs: null }),
    };
  const events: SseEvent[] = parts.map((p) => chatChunk(BASE, { content: [p] }, null, null));
  events.push(chatChunk(BASE, {}, 'stop', null), { data: '[DONE]' });
  return { kind: 'sse', events };
}

const h = useInstrHarness({ script });
const params = { model: 'local-model', messages: [{ role: 'user' as const, content: 'hi' }] };

async function complete(mode: 'detect' | 'block' | 'redact'): Promise<unknown[]> {
  const answer = (await piiOpenAI(h, mode).chat.completions.create(params)) as unknown as {
    choices: Array<{ message: { content: unknown[] } }>;
  };
  return answer.choices[0]!.message.content;
}

describe('content parts of a complete chat answer are one text, as a reader joins them', () => {
  it('detect reports an address cut between two parts', async () => {
    await complete('detect');
    await eventually(() => piiEvents(h).length > 0);
    expect(piiEvents(h)[0]!.metadata).toMatchObject({ pii_types: ['email'], direction: 'output' });
  });

  it('block refuses it', async () => {
    await expect(complete('block')).rejects.toBeInstanceOf(OutputBlockedError);
  });

  it('redact rewrites it where it starts; the text outside the change stays in its part', async () => {
    const content = await complete('redact');
    expect(content).toEqual([
      { type: 'text', text: 'Here is the contact: [REDACTED:email]' },
      { type: 'text', text: ' for it. ' },
      { type: 'text', text: 'Bye.' },
      { type: 'image_url' },
    ]);
  });

  it('streamed, the same parts were already one text (parity)', async () => {
    const seen: string[] = [];
    const s = await piiOpenAI(h, 'redact').chat.completions.create({ ...params, stream: true });
    for await (const e of s)
      for (const p of (e.choices[0]?.delta?.content ?? []) as unknown as Array<{ text?: string }>)
        seen.push(p.text ?? '');
    expect(seen.join('')).toBe('Here is the contact: [REDACTED:email] for it. Bye.');
  });
});
