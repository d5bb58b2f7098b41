import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { OutputBlockedError, instrumentClient } from '../src/instrumentation/index.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';

/**
 * piiGuard block mode on a streamed response: no character of a finding reaches the reader,
 * wherever the chunks cut it. The chunk check used to release everything up to the end of the
 * text at each step whose window held no finding yet, so the start of one still being streamed
 * ('jane.doe@example' of 'jane.doe@example.com', '4111 1111 1111' of a card, the first
 * characters of an API key) reached the reader before the chunk completing it cut the stream.
 *
 * Through the real openai client streaming from the fake server, whose script streams the
 * chunks the prompt names (a JSON array): the first chunk ends at every offset of the text, the
 * rest follow in 8-character pieces; and the whole text in 1-character deltas.
 */

const h = useInstrHarness({
  script: (req) => {
    if (req.body.stream !== true) return undefined;
    const messages = req.body.messages as Array<{ content: string }>;
    const pieces = JSON.parse(messages[0]!.content) as string[];
    const chunk = (delta: unknown, finish: string | null) => ({
      data: {
        id: 'chatcmpl-hold',
        object: 'chat.completion.chunk',
        created: 1,
        model: 'gpt-4o-mini',
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      },
    });
    return {
      kind: 'sse',
      events: [
        chunk({ role: 'assistant', content: '' }, null),
        ...pieces.map((p) => chunk({ content: p }, null)),
        chunk({}, 'stop'),
        { data: '[DONE]' },
      ],
    };
  },
});

async function read(pieces: string[]): Promise<{ text: string; err: unknown }> {
  const client = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
    ...h.options(),
    guards: { output: [piiGuard({ mode: 'block', directions: ['output'] })] },
  });
  let text = '';
  const err = await (async () => {
    const s = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: JSON.stringify(pieces) }],
    });
    for await (const c of s) text += c.choices[0]?.delta.content ?? '';
  })().catch((e: unknown) => e);
  return { text, err };
}

function eights(s: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += 8) out.push(s.slice(i, i + 8));
  return out;
}

const BEFORE = 'Sure, here is what you asked for, written out in full so it can be copied: ';
const AFTER = ' and then a few more words to fill the stream out.';

const FINDINGS: Array<[string, string]> = [
  ['email', 'jane.doe@example.com'],
  ['card in groups', '4111 1111 1111 1111'],
  ['international phone', '+44 20 7946 0958'],
  ['North American phone', '(415) 555-0100'],
  ['IBAN in groups', 'DE89 3704 0044 0532 0130 00'],
  ['SSN', '123-45-6789'],
  ['OpenAI key', 'sk-proj-4fQ9xT2mLw8RzK3vNb7YcH1pJd6Ge5Su'],
];

describe('piiGuard block mode: a streamed finding is cut before any of it reaches the reader', () => {
  for (const [name, finding] of FINDINGS) {
    it(`${name}: a cut at every offset, and 1-character deltas`, async () => {
      const full = BEFORE + finding + AFTER;
      const start = BEFORE.length;
      const layouts: string[][] = [[...full]];
      for (let c = 1; c < full.length; c++) layouts.push([full.slice(0, c), ...eights(full.slice(c))]);
      for (const pieces of layouts) {
        const { text, err } = await read(pieces);
        const label = `${name}, first chunk ${pieces[0]!.length} characters`;
        expect(err, label).toBeInstanceOf(OutputBlockedError);
        expect(full.startsWith(text), label).toBe(true);
        // Not one character of the finding was released.
        expect(text.length, label).toBeLessThanOrEqual(start);
      }
    });
  }
});

describe('piiGuard redact mode on a streamed response', () => {
  it('the reader gets the text redacted (it was passed on as streamed, before), pii_detected recorded once', async () => {
    const client = instrumentClient(
      new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      { ...h.options(), guards: { output: [piiGuard({ mode: 'redact', directions: ['output'] })] } },
    );
    const full = BEFORE + 'jane.doe@example.com' + AFTER;
    const s = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: JSON.stringify(eights(full)) }],
    });
    let text = '';
    for await (const c of s) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe(BEFORE + '[REDACTED:email]' + AFTER);
    expect(h.recorded.filter((e) => e.category === 'pii_detected').map((e) => e.metadata?.pii_types)).toEqual(
      [['email']],
    );
  });
});
