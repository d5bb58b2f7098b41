import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * Token counts as the provider (or a proxy in front of it) reports them are read as counts: a
 * non-negative safe integer, or nothing (then `request_completed` says 0 and the span has no
 * usage attribute, as for a provider that reports none). Before, any finite number was taken:
 * `prompt_tokens: -5` went into the event, the span's `gen_ai.usage.input_tokens` and the
 * token baselines, while the detector's mapping of another instrumentation's GenAI span
 * (genai-span.ts `toCount`) drops the same value, so one call read two ways.
 */

let usage: Record<string, unknown> = {};

function script(req: FakeRequest): FakeResponse | undefined {
  if (req.path.endsWith('/chat/completions'))
    return {
      kind: 'json',
      body: {
        id: 'chatcmpl-u',
        object: 'chat.completion',
        created: 1,
        model: 'gpt-4o-mini',
        choices: [
          { index: 0, message: { role: 'assistant', content: 'ok' }, logprobs: null, finish_reason: 'stop' },
        ],
        usage,
      },
    };
  if (req.path.endsWith('/messages'))
    return {
      kind: 'json',
      body: {
        id: 'msg_u',
        type: 'message',
        role: 'assistant',
        model: 'claude-3-5-haiku-20241022',
        content: [{ type: 'text', text: 'ok' }],
        stop_reason: 'end_turn',
        usage,
      },
    };
  return undefined;
}

const h = useInstrHarness({ script });

async function chat(): Promise<{ meta: Record<string, unknown>; span: Record<string, unknown> }> {
  const client = instrumentClient(
    new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
    h.options(),
  );
  await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  await eventually(() => h.spans().length === 1);
  return { meta: h.recorded[0]!.metadata as Record<string, unknown>, span: h.spans()[0]!.attributes };
}

describe('provider usage read as token counts', () => {
  it('openai chat: negative, fractional and unsafe counts are no counts', async () => {
    usage = { prompt_tokens: -5, completion_tokens: 2.5, total_tokens: 1e300 };
    const { meta, span } = await chat();
    expect(meta).toMatchObject({ prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 });
    expect(span['gen_ai.usage.input_tokens']).toBeUndefined();
    expect(span['gen_ai.usage.output_tokens']).toBeUndefined();
  });

  it('openai chat: a count past 2^53 is no count; valid counts are kept', async () => {
    usage = { prompt_tokens: 2 ** 60, completion_tokens: 7 };
    const { meta, span } = await chat();
    expect(meta).toMatchObject({ prompt_tokens: 0, completion_tokens: 7 });
    expect(span['gen_ai.usage.input_tokens']).toBeUndefined();
    expect(span['gen_ai.usage.output_tokens']).toBe(7);
  });

  it('anthropic messages: a negative input count is no count', async () => {
    usage = { input_tokens: -100, output_tokens: 3 };
    const client = instrumentClient(
      new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }),
      h.options(),
    );
    await client.messages.create({
      model: 'claude-3-5-haiku-20241022',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'hi' }],
    });
    await eventually(() => h.spans().length === 1);
    expect(h.recorded[0]!.metadata).toMatchObject({ prompt_tokens: 0, completion_tokens: 3 });
    expect(h.spans()[0]!.attributes['gen_ai.usage.input_tokens']).toBeUndefined();
  });
});
