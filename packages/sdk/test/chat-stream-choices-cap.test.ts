import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * A crafted chat (or legacy completions) stream naming many choice indexes (1-character pieces,
 * each a new index) grew the accumulator's per-choice text and refusal maps by an entry each
 * (~100 bytes a character).
 * Past 1,024 choices the stream is cut (fail closed) and reported as an output block; up to it,
 * every choice is read. Through openai 7 against the fake server, detect mode (the end check
 * is its only read, so it is the mode that needs each choice whole).
 */

const CAP = 1024;
const base = { id: 'chatcmpl-c', created: 1, model: 'gpt-4o-mini', object: 'chat.completion.chunk' };

type Field = 'content' | 'refusal' | 'completion';

/** `n` choices, each a 1-character piece (content, refusal or a legacy completion's text) on its own chunk, then each choice's finish. */
function choices(n: number, field: Field): FakeResponse {
  const events: Array<{ data: unknown }> = [];
  const choice = (index: number, piece: string, finish: string | null) =>
    field === 'completion'
      ? { index, text: piece, logprobs: null, finish_reason: finish }
      : { index, delta: piece === '' ? {} : { [field]: piece }, finish_reason: finish };
  const object = field === 'completion' ? 'text_completion' : base.object;
  for (let i = 0; i < n; i++) events.push({ data: { ...base, object, choices: [choice(i, 'x', null)] } });
  for (let i = 0; i < n; i++) events.push({ data: { ...base, object, choices: [choice(i, '', 'stop')] } });
  events.push({ data: '[DONE]' });
  return { kind: 'sse', events };
}

let next: FakeResponse | undefined;
const h = useInstrHarness({
  script: (req: FakeRequest) => (req.path.endsWith('completions') ? next : undefined),
});

let guarded = true;
function client() {
  return instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
    ...h.options(),
    guards: { output: guarded ? [piiGuard({ directions: ['output'], mode: 'detect' })] : [] },
  });
}

async function read(n: number, field: Field) {
  next = choices(n, field);
  const s =
    field === 'completion'
      ? await client().completions.create({
          model: 'gpt-3.5-turbo-instruct',
          prompt: 'hi',
          n: 2,
          stream: true,
        })
      : await client().chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'hi' }],
          n: 2,
          stream: true,
        });
  let items = 0;
  const err = await (async () => {
    for await (const _ of s) items++;
  })().then(
    () => undefined,
    (e: unknown) => e,
  );
  await eventually(() => h.recorded.some((e) => e.category === 'request_completed'));
  const completed = h.recorded.filter((e) => e.category === 'request_completed');
  return {
    err,
    items,
    outcome: completed.map((e) => e.metadata?.outcome),
    blocks: h.recorded.filter((e) => e.category === 'output_filter_block'),
  };
}

describe('a chat or legacy completions stream past 1,024 choices is cut, reported as a block', () => {
  for (const field of ['content', 'refusal', 'completion'] as const) {
    it(`${field}: 1,024 choices are read whole, the 1,025th cuts the stream before it is delivered`, async () => {
      const ok = await read(CAP, field);
      expect(ok.err).toBeUndefined();
      expect(ok.items).toBe(2 * CAP);
      expect(ok.outcome).toEqual(['allowed']);
      expect(ok.blocks).toHaveLength(0);

      h.reset();
      const cut = await read(CAP + 1, field);
      expect(cut.err).toBeInstanceOf(OutputBlockedError);
      const blocked = cut.err as OutputBlockedError;
      expect(blocked.filter).toBe('stream_limit');
      expect(blocked.reason).toBe('stream_limit: more than 1024 choices');
      // The 1,025th choice's chunk was never handed over.
      expect(cut.items).toBe(CAP);
      expect(cut.outcome).toEqual(['blocked']);
      expect(cut.blocks).toHaveLength(1);
      expect(cut.blocks[0]!.metadata).toMatchObject({
        filter_name: 'stream_limit',
        block_reason: blocked.reason,
      });
      expect(blocked.event).toBe(cut.blocks[0]);
    });
  }

  it('without output guards nothing needs every choice read: the stream goes on past the cap', async () => {
    guarded = false;
    try {
      for (const field of ['content', 'refusal', 'completion'] as const) {
        h.reset();
        const r = await read(CAP + 1, field);
        expect(r.err).toBeUndefined();
        expect(r.items).toBe(2 * (CAP + 1));
        expect(r.outcome).toEqual(['allowed']);
        expect(r.blocks).toHaveLength(0);
      }
    } finally {
      guarded = true;
    }
  });
});
