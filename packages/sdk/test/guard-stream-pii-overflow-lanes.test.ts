import OpenAI from 'openai';
import OpenAI6 from 'openai-v6';
import { describe, expect, it } from 'vitest';
import { redact } from '@llmsec/core';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * A legacy completions stream of more than 128 choices (a list of prompts x n), through the
 * real openai 7 and 6 clients: piiGuard checks 128 choices a lane each (pii-stream-lanes.ts),
 * and the choices past them shared one lane, read as their chunks interleaved. A card in
 * choice 129 cut by a chunk of choice 128 was no finding there and reached the reader raw, in
 * redact and block mode. Now each such choice keeps its own check and the stream is held from
 * their first character to the end (fail closed): every choice's deltas join to `redact` of its
 * own text, and block mode cuts the stream before any piece of the card.
 */

const CHOICES = 130;
const A = ['My card is 4111 1111 ', '1111 1111 thanks', ' bye'];
/** Long enough that the shared lane's checks move past the card's first half and release it. */
const B = [
  'Hello there, this is a long plain answer with many words in it, ',
  'and it goes on for a good while longer than the check window steps, ',
  'ok',
];

/** Choice i's pieces: 129 carries the card, 128 alternates with it, the others a plain line. */
function pieces(i: number): string[] {
  if (i === 129) return A;
  if (i === 128) return B;
  return [`line ${i} `, 'of text'];
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (req.body.stream !== true || !req.path.endsWith('/v1/completions')) return undefined;
  const chunk = (index: number, text: string, finish: string | null = null) => ({
    data: {
      id: 'cmpl-many',
      object: 'text_completion',
      created: 1,
      model: 'gpt-3.5-turbo-instruct',
      choices: [{ index, text, logprobs: null, finish_reason: finish }],
    },
  });
  const events: Array<{ data: unknown }> = [];
  for (let i = 0; i < 128; i++) for (const p of pieces(i)) events.push(chunk(i, p));
  for (let k = 0; k < A.length; k++) events.push(chunk(129, A[k]!), chunk(128, B[k]!));
  for (let i = 0; i < CHOICES; i++) events.push(chunk(i, '', 'stop'));
  events.push({ data: '[DONE]' });
  return { kind: 'sse', events };
}

const h = useInstrHarness({ script });

function clients(mode: 'redact' | 'block') {
  const options = { ...h.options(), guards: { output: [piiGuard({ mode, directions: ['output'] })] } };
  const opts = { apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 };
  return [
    ['openai 7', instrumentClient(new OpenAI(opts), options)],
    ['openai 6', instrumentClient(new OpenAI6(opts) as unknown as OpenAI, options)],
  ] as const;
}

const params = { model: 'gpt-3.5-turbo-instruct', prompt: 'hi', n: CHOICES, stream: true as const };

describe('a completions stream of more than 128 choices', () => {
  it("redact: every choice's deltas join to redact of its own text", async () => {
    const expected = Array.from({ length: CHOICES }, (_, i) => redact(pieces(i).join('')).text);
    expect(expected[129]).toContain('[REDACTED:credit_card]');
    for (const [name, c] of clients('redact')) {
      h.recorded.length = 0;
      const s = await c.completions.create(params);
      const per: string[] = Array.from({ length: CHOICES }, () => '');
      for await (const chunk of s) for (const ch of chunk.choices) per[ch.index] += ch.text;
      expect(per, name).toEqual(expected);
      const pii = h.recorded.filter((e) => e.category === 'pii_detected');
      expect(
        pii.map((e) => e.metadata),
        name,
      ).toEqual([{ pii_types: ['credit_card'], direction: 'output' }]);
    }
  });

  it('block: the stream is cut before any piece of the card', async () => {
    for (const [name, c] of clients('block')) {
      const s = await c.completions.create(params);
      const per: string[] = Array.from({ length: CHOICES }, () => '');
      await expect(async () => {
        for await (const chunk of s) for (const ch of chunk.choices) per[ch.index] += ch.text;
      }, name).rejects.toThrow(/blocked by output filter "pii"/);
      expect(per[129], name).not.toMatch(/4111|1111/);
    }
  });
});
