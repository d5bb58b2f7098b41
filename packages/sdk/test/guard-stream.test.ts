import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient, OutputBlockedError, type OutputGuard } from '../src/instrumentation/index.ts';
import { useInstrHarness, eventually } from './fixtures/instr-harness.ts';

const h = useInstrHarness({ chunkDelayMs: 2 });

const client = (output: OutputGuard[]) =>
  instrumentClient(new OpenAI({ apiKey: 'test', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
    ...h.options(),
    guards: { output },
  });

describe('output guards on OpenAI streams', () => {
  it('piiGuard(block) cuts a chat stream when an email completes; the request is aborted', async () => {
    const c = client([piiGuard({ mode: 'block', directions: ['output'] })]);
    const prompt = `contact carol@example.com ${'and then some more words '.repeat(10)}`;
    const stream = await c.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: prompt }],
    });
    let text = '';
    const err = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutputBlockedError);
    expect((err as OutputBlockedError).filter).toBe('pii');
    // The chunk completing the address was withheld, and nothing after it was delivered.
    expect(text.length).toBeLessThan(`Echo: ${prompt}`.length);
    expect(text).not.toContain('carol@example.com');
    expect(stream.controller.signal.aborted).toBe(true);
    await eventually(() => h.spans().length === 1);
    expect(h.recorded.map((e) => e.category)).toEqual([
      'pii_detected',
      'output_filter_block',
      'request_completed',
    ]);
    expect(h.recorded[0]?.metadata).toEqual({ pii_types: ['email'], direction: 'output' });
    expect(h.spans()[0]?.attributes['error.type']).toBe('OutputBlockedError');
  });

  it('ordinary streams pass through whole, and tee() branches both see every chunk', async () => {
    const c = client([piiGuard({ mode: 'block', directions: ['output'] })]);
    const stream = await c.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'plain words only' }],
    });
    const [a, b] = stream.tee();
    const read = async (s: typeof a): Promise<string> => {
      let t = '';
      for await (const chunk of s) t += chunk.choices[0]?.delta.content ?? '';
      return t;
    };
    expect(await Promise.all([read(a), read(b)])).toEqual([
      'Echo: plain words only',
      'Echo: plain words only',
    ]);
    await eventually(() => h.spans().length === 1);
    expect(h.recorded.map((e) => e.category)).toEqual(['request_completed']);
  });

  it('a responses stream is cut by a chunk guard', async () => {
    const stopWord: OutputGuard = {
      name: 'stopWord',
      layer: 'stop_word',
      checkResponse: () => ({ action: 'allow' }),
      checkChunk: (acc) =>
        acc.includes('FORBIDDEN') ? { action: 'block', reason: 'stop word' } : { action: 'allow' },
    };
    const c = client([stopWord]);
    const stream = await c.responses.create({
      model: 'gpt-4o-mini',
      stream: true,
      input: `say FORBIDDEN ${'x'.repeat(80)}`,
    });
    const types: string[] = [];
    const err = await (async () => {
      for await (const ev of stream) types.push(ev.type);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutputBlockedError);
    expect(types).not.toContain('response.completed');
    expect(h.recorded.map((e) => [e.category, e.metadata?.filter_name ?? null])).toEqual([
      ['output_filter_block', 'stop_word'],
      ['request_completed', null],
    ]);
  });
});
