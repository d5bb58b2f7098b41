import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient, OutputBlockedError } from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';

/**
 * A stream that ends without the provider's terminal item (no finish_reason: a connection cut,
 * a proxy, a server that leaves it out) still gets its end checks before the text a guard held
 * back reaches the reader (issue 13 review): before, the held items were released unchecked.
 */

const h = useInstrHarness();

const chunk = (delta: object, finish: string | null): string =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

function sse(parts: string[], finish: boolean): string {
  return [
    chunk({ role: 'assistant', content: '' }, null),
    ...parts.map((p) => chunk({ content: p }, null)),
    ...(finish ? [chunk({}, 'stop')] : []),
    'data: [DONE]\n\n',
  ].join('');
}

// piiGuard in block mode checks new text in steps of 32 characters and holds the rest until
// then, or until the end checks: the address is in the last, held, step.
const PARTS = ['Here is the answer you asked for, with details. ', 'mail carol@example.com'];

async function read(finish: boolean, parts = PARTS): Promise<{ shown: string; err: unknown }> {
  const body = sse(parts, finish);
  const client = instrumentClient(
    new OpenAI({
      apiKey: 'test',
      baseURL: 'http://127.0.0.1:9/v1',
      maxRetries: 0,
      fetch: () =>
        Promise.resolve(
          new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } }),
        ),
    }),
    { ...h.options(), guards: { output: [piiGuard({ mode: 'block', directions: ['output'] })] } },
  );
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    stream: true,
    messages: [{ role: 'user', content: 'hi' }],
  });
  let shown = '';
  let err: unknown;
  try {
    for await (const c of stream) shown += c.choices[0]?.delta.content ?? '';
  } catch (e) {
    err = e;
  }
  return { shown, err };
}

describe('a stream that ends without its terminal item', () => {
  for (const finish of [true, false]) {
    it(`held text is checked before it is released (finish_reason ${finish ? 'sent' : 'missing'})`, async () => {
      const { shown, err } = await read(finish);
      expect(err).toBeInstanceOf(OutputBlockedError);
      expect(shown).toBe(PARTS[0]);
      await eventually(() => h.spans().length === 1);
      expect(h.recorded.map((e) => e.category)).toEqual([
        'pii_detected',
        'output_filter_block',
        'request_completed',
      ]);
      expect(h.spans()[0]?.attributes['error.type']).toBe('OutputBlockedError');
    });
  }

  it('a clean one is released whole, once, and the call is abandoned as before (error.type aborted, no block)', async () => {
    const parts = ['Here is the answer you asked for, with details. ', 'nothing personal here'];
    const { shown, err } = await read(false, parts);
    expect(err).toBeUndefined();
    expect(shown).toBe(parts.join(''));
    await eventually(() => h.spans().length === 1);
    expect(h.recorded.map((e) => e.category)).toEqual(['request_completed']);
    expect(h.spans()[0]?.attributes['error.type']).toBe('aborted');
  });
});
