import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { createInstrHarness, useInstrHarness, eventually, histogram } from './fixtures/instr-harness.ts';

const h = useInstrHarness();
let client: OpenAI;

// After the harness's own beforeAll (hooks run in the order they are declared).
beforeAll(() => {
  client = instrumentClient(
    new OpenAI({ apiKey: 'test', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
    h.options(),
  );
});

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

  it('streams: the span ends when the stream is consumed; usage from include_usage, counted once', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'stream me please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    // The library's own Stream type is returned.
    expect(stream.constructor.name).toBe('Stream');
    expect(typeof stream.tee).toBe('function');
    let text = '';
    for await (const chunk of stream) {
      expect(h.spans()).toHaveLength(0);
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe('Echo: stream me please');
    await eventually(() => h.spans().length === 1);
    const span = h.spans()[0];
    expect(span?.attributes).toMatchObject({
      'gen_ai.request.stream': true,
      'gen_ai.response.id': expect.stringMatching(/^chatcmpl-/) as unknown,
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 4,
      'gen_ai.usage.output_tokens': 6,
    });
    expect(span?.attributes['error.type']).toBeUndefined();
    expect(h.recorded.map((e) => e.category)).toEqual(['request_completed']);
    expect(h.recorded[0]?.metadata).toMatchObject({ prompt_tokens: 4, completion_tokens: 6, blocked: false });
  });

  it('streams: an application that breaks off half-way ends the span as aborted and aborts the request', async () => {
    const fakeLong = 'x'.repeat(200);
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: fakeLong }],
      stream: true,
    });
    let chunks = 0;
    for await (const _chunk of stream) {
      if (++chunks === 3) break;
    }
    await eventually(() => h.spans().length === 1);
    const span = h.spans()[0];
    expect(span?.attributes['error.type']).toBe('aborted');
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(stream.controller.signal.aborted).toBe(true);
    expect(h.recorded.map((e) => e.category)).toEqual(['request_completed']);
    expect(h.recorded[0]?.metadata).toMatchObject({
      prompt_tokens: 0,
      completion_tokens: 0,
      blocked: false,
      outcome: 'allowed',
    });
  });

  it('provider errors: 429 and 500 end the span with error.type and are rethrown unchanged', async () => {
    await expect(
      client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'please [[429]]' }],
      }),
    ).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    await expect(
      client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'please [[500]]' }],
      }),
    ).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    await eventually(() => h.spans().length === 2);
    expect(h.spans().map((s) => [s.attributes['error.type'], s.status.code])).toEqual([
      ['RateLimitError', SpanStatusCode.ERROR],
      ['InternalServerError', SpanStatusCode.ERROR],
    ]);
    expect(h.recorded.map((e) => e.metadata?.outcome)).toEqual(['error', 'error']);
  });

  it('tool calls: finish reason tool_calls, the call passes through', async () => {
    const res = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'call tool get_weather' }],
      tools: [
        {
          type: 'function',
          function: { name: 'get_weather', parameters: { type: 'object', properties: {} } },
        },
      ],
    });
    const call = res.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' ? call.function.name : undefined).toBe('get_weather');
    await eventually(() => h.spans().length === 1);
    expect(h.spans()[0]?.attributes['gen_ai.response.finish_reasons']).toEqual(['tool_calls']);
  });

  it('withResponse() and asResponse() still work on the returned APIPromise', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'raw' }] })
      .withResponse();
    expect(response.status).toBe(200);
    expect(data.choices[0]?.message.content).toBe('Echo: raw');
    await eventually(() => h.spans().length === 1);
  });
});

describe('openai responses.create and embeddings.create', () => {
  it('responses: plain and streaming', async () => {
    const res = await client.responses.create({ model: 'gpt-4o-mini', input: 'hi resp' });
    expect(res.output_text).toBe('Echo: hi resp');
    const stream = await client.responses.create({ model: 'gpt-4o-mini', input: 'hi stream', stream: true });
    const types: string[] = [];
    for await (const ev of stream) types.push(ev.type);
    expect(types[types.length - 1]).toBe('response.completed');
    await eventually(() => h.spans().length === 2);
    const [plain, streamed] = h.spans();
    expect(plain?.name).toBe('chat gpt-4o-mini');
    expect(plain?.attributes).toMatchObject({
      'gen_ai.response.id': res.id,
      'gen_ai.response.finish_reasons': ['completed'],
      'gen_ai.usage.input_tokens': 2,
      'gen_ai.usage.output_tokens': 4,
    });
    expect(streamed?.attributes).toMatchObject({
      'gen_ai.request.stream': true,
      'gen_ai.usage.input_tokens': 3,
      'gen_ai.usage.output_tokens': 4,
      'gen_ai.response.finish_reasons': ['completed'],
    });
    expect(
      h.recorded.map((e) => [e.category, e.metadata?.prompt_tokens, e.metadata?.completion_tokens]),
    ).toEqual([
      ['request_completed', 2, 4],
      ['request_completed', 3, 4],
    ]);
  });

  it('embeddings: an embeddings span with input tokens', async () => {
    const res = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'abcdefgh' });
    expect(res.data[0]?.embedding).toHaveLength(8);
    await eventually(() => h.spans().length === 1);
    const span = h.spans()[0];
    expect(span?.name).toBe('embeddings text-embedding-3-small');
    expect(span?.attributes).toMatchObject({
      'gen_ai.operation.name': 'embeddings',
      'gen_ai.usage.input_tokens': 2,
    });
  });
});

describe('metrics', () => {
  it('gen_ai.client.token.usage and gen_ai.client.operation.duration, exactly', async () => {
    // Fresh harness so earlier tests' points do not mix in.
    const h2 = await createInstrHarness();
    const c2 = instrumentClient(
      new OpenAI({ apiKey: 'test', baseURL: h2.fake.openaiBaseURL, maxRetries: 0 }),
      h2.options(),
    );
    await c2.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello there' }],
    });
    await c2.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello again' }],
    });
    await expect(
      c2.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '[[500]]' }] }),
    ).rejects.toThrow();
    await eventually(() => h2.spans().length === 3);
    const base = {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
    };
    expect(
      (await histogram(h2.reader, 'gen_ai.client.token.usage')).map(({ attrs, count, sum }) => ({
        attrs,
        count,
        sum,
      })),
    ).toEqual([
      { attrs: { ...base, 'gen_ai.token.type': 'input' }, count: 2, sum: 6 },
      { attrs: { ...base, 'gen_ai.token.type': 'output' }, count: 2, sum: 10 },
    ]);
    const durations = await histogram(h2.reader, 'gen_ai.client.operation.duration');
    expect(durations.map(({ attrs, count }) => ({ attrs, count }))).toEqual([
      { attrs: base, count: 2 },
      { attrs: { ...base, 'error.type': 'InternalServerError' }, count: 1 },
    ]);
    const requests = (await h2.reader.all()).find((m) => m.descriptor.name === 'llmsec.requests');
    expect(requests?.dataPoints.map((p) => [p.attributes.outcome, p.value])).toEqual([
      ['allowed', 2],
      ['error', 1],
    ]);
    await h2.close();
  });
});

describe('failures mid-stream and configurable prices', () => {
  it('a stream that fails half-way ends the span with the error', async () => {
    const h3 = await createInstrHarness({
      script: (req) =>
        req.body.stream === true
          ? {
              kind: 'sse',
              events: [
                {
                  data: {
                    id: 'chatcmpl-x',
                    object: 'chat.completion.chunk',
                    created: 1,
                    model: 'gpt-4o-mini',
                    choices: [{ index: 0, delta: { content: 'Hel' }, finish_reason: null }],
                  },
                },
                { event: 'error', data: { error: { message: 'overloaded', type: 'server_error' } } },
              ],
            }
          : undefined,
    });
    const c3 = instrumentClient(
      new OpenAI({ apiKey: 'test', baseURL: h3.fake.openaiBaseURL, maxRetries: 0 }),
      h3.options(),
    );
    const stream = await c3.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'x' }],
    });
    const err = await (async () => {
      for await (const _ of stream) {
        // read until it fails
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    await eventually(() => h3.spans().length === 1);
    expect(h3.spans()[0]?.attributes['error.type']).toBe('APIError');
    expect(h3.recorded.map((e) => [e.category, e.metadata?.outcome])).toEqual([
      ['request_completed', 'error'],
    ]);
    await h3.close();
  });

  it('cost_usd uses the configured price table', async () => {
    const h4 = await createInstrHarness();
    const c4 = instrumentClient(
      new OpenAI({ apiKey: 'test', baseURL: h4.fake.openaiBaseURL, maxRetries: 0 }),
      {
        ...h4.options(),
        prices: { 'house-model': { inputPerMTokUsd: 1000, outputPerMTokUsd: 2000 } },
      },
    );
    await c4.chat.completions.create({
      model: 'house-model',
      messages: [{ role: 'user', content: 'hello there' }],
    });
    // 3 input tokens x 1000 + 5 output tokens x 2000 USD per million.
    expect(h4.recorded[0]?.metadata?.cost_usd).toBeCloseTo(0.013, 12);
    await c4.chat.completions.create({
      model: 'unknown-model',
      messages: [{ role: 'user', content: 'hello there' }],
    });
    expect(h4.recorded[1]?.metadata?.cost_usd).toBe(0);
    await h4.close();
  });
});
