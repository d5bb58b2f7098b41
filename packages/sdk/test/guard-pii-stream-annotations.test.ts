import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';
import { piiOpenAI } from './fixtures/pii-guarded-client.ts';

/**
 * A streamed chat answer's annotations (web-search models send `url_citation`s in a chunk's
 * delta): piiGuard redact rewrites their titles and URLs (888ea5a), but the chat accumulator
 * kept no side texts, so the end check never read them: `detect` recorded nothing for an
 * address in a title and `block` let it through. Now they are the stream's side texts, read by
 * the end check after the answer, as a complete answer's and a Responses stream's are.
 */

const EMAIL = 'jane.doe@example.com';

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/chat/completions')) return undefined;
  const chunk = (delta: unknown, finish: string | null = null) => ({
    data: {
      id: 'chatcmpl-a',
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
      chunk({}, 'stop'),
      { data: '[DONE]' },
    ],
  };
}

const h = useInstrHarness({ script });

const ask = {
  model: 'gpt-4o-mini',
  stream: true as const,
  messages: [{ role: 'user' as const, content: 'hi' }],
};

describe("a streamed chat answer's annotations: the end check reads them", () => {
  it('detect: one pii_detected for the address in the title', async () => {
    h.recorded.length = 0;
    const stream = await piiOpenAI(h, 'detect').chat.completions.create(ask);
    for await (const _ of stream);
    const pii = h.recorded.filter((e) => e.category === 'pii_detected');
    expect(pii).toHaveLength(1);
    expect(pii[0]!.metadata?.pii_types).toEqual(['email']);
  });

  it('block: the stream fails at its end check', async () => {
    const stream = await piiOpenAI(h, 'block').chat.completions.create(ask);
    await expect(
      (async () => {
        for await (const _ of stream);
      })(),
    ).rejects.toBeInstanceOf(OutputBlockedError);
  });
});
