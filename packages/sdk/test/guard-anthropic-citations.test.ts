import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import type { GuardOptions } from '../src/instrumentation/types.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';

/**
 * The citations of an Anthropic answer resent as history (`cited_text`, `document_title`,
 * `title`: a document's words and names, citations.ts), read by the input guards as a
 * `document` message, through the real @anthropic-ai/sdk client against the fake server.
 * Before, piiGuard redacted an email from a block's text and sent it in its citation's quote.
 */

const h = useInstrHarness();

function client(guards: GuardOptions) {
  return instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }), {
    ...h.options(),
    guards,
  });
}

const text = (t: string, extra: Record<string, unknown> = {}) => ({ type: 'text', text: t, ...extra });

const CITATION = {
  type: 'char_location',
  cited_text: 'Owner: Jane Roe, jane.roe@example.com',
  document_index: 0,
  document_title: 'Team page',
  start_char_index: 0,
  end_char_index: 37,
};

const params = {
  model: 'claude-haiku-4-5',
  max_tokens: 50,
  messages: [{ role: 'user' as const, content: 'Who owns it?' }],
};

describe('citations of an answer resent as history: read by the input guards', () => {
  const history = (cited: Record<string, unknown>) => [
    { role: 'user' as const, content: 'Who owns the page?' },
    {
      role: 'assistant' as const,
      content: [text('The owner is '), text('Jane Roe (jane.roe@example.com).', { citations: [cited] })],
    },
    { role: 'user' as const, content: 'Thanks.' },
  ];

  it('redact removes the email from the quote too, as from the text', async () => {
    await client({ input: [piiGuard({ mode: 'redact' })] }).messages.create({
      ...params,
      messages: history(CITATION) as Anthropic.MessageParam[],
    });
    const sent = (h.fake.requests.at(-1)?.body as { messages: unknown[] }).messages;
    expect(JSON.stringify(sent)).not.toContain('jane.roe@example.com');
    expect(sent[1]).toEqual({
      role: 'assistant',
      content: [
        text('The owner is '),
        text('Jane Roe ([REDACTED:email]).', {
          citations: [{ ...CITATION, cited_text: 'Owner: Jane Roe, [REDACTED:email]' }],
        }),
      ],
    });
  });

  it('personal data only in a quote or a title is found: block refuses, detect reports it as a document\u2019s', async () => {
    const cited = { ...CITATION, cited_text: 'Call +1 415 555 0100', document_title: 'jane.roe@example.com' };
    const messages = [
      { role: 'user' as const, content: 'Who owns the page?' },
      { role: 'assistant' as const, content: [text('The owner is Jane.', { citations: [cited] })] },
      { role: 'user' as const, content: 'Thanks.' },
    ] as Anthropic.MessageParam[];
    await expect(
      client({ input: [piiGuard({ mode: 'block' })] }).messages.create({ ...params, messages }),
    ).rejects.toThrow();
    expect(h.fake.requests).toHaveLength(0);
    await client({ input: [piiGuard({ mode: 'detect' })] }).messages.create({ ...params, messages });
    const found = h.recorded.filter((e) => e.category === 'pii_detected');
    expect(found).toHaveLength(1);
    expect(found[0]?.metadata?.input_source).toBe('tool');
    await client({ input: [piiGuard({ mode: 'redact' })] }).messages.create({ ...params, messages });
    const sent = JSON.stringify(h.fake.requests.at(-1)?.body);
    expect(sent).not.toContain('555 0100');
    expect(sent).not.toContain('jane.roe');
  });

  it('hostile citations (non-string fields, not a list, thousands) are skipped or read, never thrown on', async () => {
    const many = Array.from({ length: 5000 }, (_, i) => ({
      ...CITATION,
      cited_text: i % 2 ? 7 : `a${i}@example.com`,
    }));
    const messages = [
      { role: 'user', content: 'Q' },
      {
        role: 'assistant',
        content: [
          text('x', { citations: 'no' }),
          text('y', { citations: [null, 3, { cited_text: { a: 1 } }] }),
          text('z', { citations: many }),
        ],
      },
      { role: 'user', content: 'Thanks.' },
    ] as unknown as Anthropic.MessageParam[];
    await client({ input: [piiGuard({ mode: 'redact', maxChars: 1 << 22 })] }).messages.create({
      ...params,
      messages,
    });
    const sent = JSON.stringify(h.fake.requests.at(-1)?.body);
    expect(sent).not.toContain('@example.com');
    expect(sent).toContain('"cited_text":7');
  });
});
