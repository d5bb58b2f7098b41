import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { createInstrHarness, eventually, histogram, type InstrHarness } from './fixtures/instr-harness.ts';

let h: InstrHarness;
let client: OpenAI;

beforeAll(async () => {
  h = await createInstrHarness();
  client = instrumentClient(new OpenAI({ apiKey: 'test', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), h.options());
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => h.reset());

describe('openai chat.completions.create (instrumentClient)', () => {
  it('traces a plain call with the GenAI attributes and records one request_completed', async () => {
    const res = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello there' }],
      max_tokens: 50,
      temperature: 0.2,
    });
    expect(res.choices[0]?.message.content).toBe('Echo: hello there');
    await eventually(() => h.spans().length === 1);
    const [span] = h.spans();
    expect(span?.name).toBe('chat gpt-4o-mini');
    expect(span?.kind).toBe(SpanKind.CLIENT);
    expect(span?.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.request.max_tokens': 50,
      'gen_ai.request.temperature': 0.2,
      'server.address': '127.0.0.1',
      'server.port': h.fake.port,
      'gen_ai.response.id': res.id,
      'gen_ai.response.model': 'gpt-4o-mini',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 3,
      'gen_ai.usage.output_tokens': 5,
    });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    expect(h.recorded.map((e) => e.category)).toEqual(['request_completed']);
    const md = h.recorded[0]?.metadata;
    expect(md).toMatchObject({
      model: 'gpt-4o-mini',
      prompt_tokens: 3,
      completion_tokens: 5,
      prompt_length: 'hello there'.length,
      blocked: false,
      outcome: 'allowed',
    });
    // gpt-4o-mini: 0.15 / 0.6 USD per million tokens.
    expect(md?.cost_usd).toBeCloseTo((3 * 0.15 + 5 * 0.6) / 1e6, 12);
    expect(typeof md?.latency_ms).toBe('number');
    expect(span?.events.map((e) => e.name)).toEqual(['llmsec.request_completed']);
  });
});
