import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { redact } from '@llmsec/core';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import { piecesOfLength, streamPiecesScript } from './fixtures/stream-pieces.ts';

/**
 * piiGuard's default mode (redact) on a STREAMED response: the application reads the text with
 * each finding replaced by its typed placeholder, as a non-streamed response is, wherever the
 * chunks cut the finding. Before, a stream's items were passed on as the provider sent them and
 * the finding was only reported. Through the real openai and @anthropic-ai/sdk clients streaming
 * the chunks the prompt names from the fake server (fixtures/stream-pieces.ts): the first chunk
 * ends at every offset of the text, the rest follow in 8-character pieces; and the whole text in
 * 1-character deltas. What the reader gets must equal core's redact of the whole text.
 */

const h = useInstrHarness({ script: streamPiecesScript });

type Api = 'chat' | 'responses' | 'anthropic';

function clients() {
  const options = { ...h.options(), guards: { output: [piiGuard({ directions: ['output'] })] } };
  return {
    openai: instrumentClient(
      new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      options,
    ),
    anthropic: instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }), options),
  };
}

/** The text of the deltas the application reads. */
async function read(api: Api, pieces: string[]): Promise<string> {
  const c = clients();
  const prompt = JSON.stringify(pieces);
  let text = '';
  if (api === 'chat') {
    const s = await c.openai.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: prompt }],
    });
    for await (const chunk of s) text += chunk.choices[0]?.delta.content ?? '';
  } else if (api === 'responses') {
    const s = await c.openai.responses.create({ model: 'gpt-4o-mini', stream: true, input: prompt });
    for await (const e of s) if (e.type === 'response.output_text.delta') text += e.delta;
  } else {
    const s = await c.anthropic.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 200,
      stream: true,
      messages: [{ role: 'user', content: prompt }],
    });
    for await (const e of s)
      if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') text += e.delta.text;
  }
  return text;
}

const BEFORE = 'Sure, here is what you asked for, written out in full so it can be copied: ';
const AFTER = ' and then a few more words to fill the stream out.';

export const FINDINGS: Array<[string, string]> = [
  ['email', 'jane.doe@example.com'],
  ['card in groups', '4111 1111 1111 1111'],
  ['international phone', '+44 20 7946 0958'],
  ['North American phone', '(415) 555-0100'],
  ['IBAN in groups', 'DE89 3704 0044 0532 0130 00'],
  ['SSN', '123-45-6789'],
  ['OpenAI key', 'sk-proj-4fQ9xT2mLw8RzK3vNb7YcH1pJd6Ge5Su'],
  ['bearer token', 'Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0'],
  ['IPv4 address', '203.0.113.42'],
];

function layouts(full: string): string[][] {
  const out: string[][] = [[...full]];
  for (let c = 1; c < full.length; c++) out.push([full.slice(0, c), ...piecesOfLength(full.slice(c), 8)]);
  return out;
}

describe('piiGuard redact on a streamed response: the reader gets redact(whole text), wherever the chunks cut', () => {
  for (const [name, finding] of FINDINGS) {
    it(`chat, ${name}: a cut at every offset, and 1-character deltas`, async () => {
      const full = BEFORE + finding + AFTER;
      const expected = redact(full).text;
      expect(expected).not.toContain(finding);
      for (const pieces of layouts(full)) {
        const text = await read('chat', pieces);
        expect(text, `${name}, first chunk ${pieces[0]!.length} characters`).toBe(expected);
      }
    });
  }

  for (const api of ['responses', 'anthropic'] as const) {
    for (const [name, finding] of FINDINGS.slice(0, 4)) {
      it(`${api}, ${name}: a cut at every offset, and 1-character deltas`, async () => {
        const full = BEFORE + finding + AFTER;
        const expected = redact(full).text;
        for (const pieces of layouts(full)) {
          const text = await read(api, pieces);
          expect(text, `${name}, first chunk ${pieces[0]!.length} characters`).toBe(expected);
        }
      });
    }
  }

  it('a finding at the very end of the stream is redacted when the stream ends (the held text is flushed)', async () => {
    for (const api of ['chat', 'responses', 'anthropic'] as const) {
      const full = 'Write to jane.doe@example.com';
      expect(await read(api, piecesOfLength(full, 5)), api).toBe('Write to [REDACTED:email]');
      expect(await read(api, [full]), api).toBe('Write to [REDACTED:email]');
    }
  });

  it('a stream without findings reaches the reader unchanged, piece by piece', async () => {
    const c = clients();
    const full = 'Nothing personal here: 12 apples, 3 pears, call me maybe. '.repeat(20);
    const s = await c.openai.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: JSON.stringify(piecesOfLength(full, 7)) }],
    });
    const deltas: string[] = [];
    for await (const chunk of s) {
      const d = chunk.choices[0]?.delta.content;
      if (typeof d === 'string' && d.length > 0) deltas.push(d);
    }
    expect(deltas.join('')).toBe(full);
    // Each delta as it came (held, not merged): the items are delivered, not rebuilt.
    expect(deltas).toEqual(piecesOfLength(full, 7));
  });
});

/** A seeded generator (mulberry32), so a failure names its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FILLER = [
  'the',
  'order',
  'ships',
  'on',
  'Monday,',
  'call',
  'or',
  'write:',
  '42',
  'items',
  '(see',
  'above).',
  'AB',
  '12',
  '-',
  '\n',
  'x@y',
  'ok.',
];

describe('differential: the streamed text equals redact of the whole text', () => {
  it('300 random answers of filler words and findings, random chunk sizes, through the real clients', async () => {
    const apis: Api[] = ['chat', 'responses', 'anthropic'];
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const words: string[] = [];
      const n = 5 + Math.floor(r() * 40);
      for (let i = 0; i < n; i++) {
        words.push(
          r() < 0.2
            ? FINDINGS[Math.floor(r() * FINDINGS.length)]![1]
            : FILLER[Math.floor(r() * FILLER.length)]!,
        );
      }
      const seps = [' ', ' ', ' ', ', ', '\n', ': '];
      const full = words.map((w, i) => (i === 0 ? w : seps[Math.floor(r() * seps.length)]! + w)).join('');
      const pieces: string[] = [];
      for (let i = 0; i < full.length;) {
        const len = 1 + Math.floor(r() * (r() < 0.3 ? 3 : 40));
        pieces.push(full.slice(i, i + len));
        i += len;
      }
      const api = apis[seed % 3]!;
      expect(await read(api, pieces), `seed ${seed} (${api}): ${JSON.stringify(pieces)}`).toBe(
        redact(full).text,
      );
    }
  });
});
