import OpenAI from 'openai';
import { redact } from '@llmsec/core';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * A redact chat stream's annotation over text between two addresses in one chunk (the end of
 * one, ', see the page, or ', the start of the next): that text is delivered unchanged, so the
 * annotation is kept and moved. 36aaab4 took the chunk's changed region as what differs
 * between its text as sent and as delivered, from the end of the first address to the start of
 * the second, and removed it. Through openai 7 against the fake server: the chunks, and
 * chat.completions.stream()'s final message.
 */

const TEXT = 'Write jane.doe@example.com, see the page, or bob@ex.org today.';
const NEW = redact(TEXT).text;
const PAGE = 'the page';
const CUT1 = 'Write jane.doe@ex'.length;
const CUT2 = TEXT.indexOf('bob@') + 2;

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/chat/completions')) return undefined;
  const chunk = (delta: unknown, finish: string | null = null) => ({
    data: {
      id: 'chatcmpl-b',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    },
  });
  const start = TEXT.indexOf(PAGE);
  return {
    kind: 'sse',
    events: [
      chunk({ role: 'assistant', content: TEXT.slice(0, CUT1) }),
      chunk({ content: TEXT.slice(CUT1, CUT2) }),
      chunk({ content: TEXT.slice(CUT2) }),
      chunk({
        annotations: [
          {
            type: 'url_citation',
            url_citation: {
              start_index: start,
              end_index: start + PAGE.length,
              title: 'p',
              url: 'https://x.org/',
            },
          },
        ],
      }),
      chunk({}, 'stop'),
      { data: '[DONE]' },
    ],
  };
}

const h = useInstrHarness({ script });

function client() {
  return instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
    ...h.options(),
    guards: { output: [piiGuard({ directions: ['output'] })] },
  });
}

type Citation = { url_citation: { start_index: number; end_index: number } };
const spans = (text: string, list: readonly Citation[]) =>
  list.map((a) => text.slice(a.url_citation.start_index, a.url_citation.end_index));

describe('redact stream: an annotation between two changes of one chunk', () => {
  it('is kept and moved, in the chunks and the final message', async () => {
    expect(NEW).toBe('Write [REDACTED:email], see the page, or [REDACTED:email] today.');
    const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };
    const s = await client().chat.completions.create({ ...ask, stream: true });
    let content = '';
    const annotations: Citation[] = [];
    for await (const c of s) {
      const d = c.choices[0]?.delta as { content?: string; annotations?: Citation[] };
      content += d?.content ?? '';
      annotations.push(...(d?.annotations ?? []));
    }
    expect(content).toBe(NEW);
    expect(spans(NEW, annotations)).toEqual([PAGE]);
    const final = await client().chat.completions.stream(ask).finalChatCompletion();
    const m = final.choices[0]!.message;
    expect(m.content).toBe(NEW);
    expect(spans(NEW, m.annotations as unknown as Citation[])).toEqual([PAGE]);
  });
});
