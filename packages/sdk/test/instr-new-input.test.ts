import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { withSecurityContext } from '../src/context.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { useInstrHarness, eventually } from './fixtures/instr-harness.ts';

/** request_completed carries the call's own input and its turn, beside the total prompt length. */

const h = useInstrHarness();
let openai: OpenAI;
let anthropic: Anthropic;

// After the harness's own beforeAll (hooks run in the order they are declared).
beforeAll(() => {
  openai = instrumentClient(
    new OpenAI({ apiKey: 'test', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
    h.options(),
  );
  anthropic = instrumentClient(
    new Anthropic({ apiKey: 'test', baseURL: h.fake.url, maxRetries: 0 }),
    h.options(),
  );
});

describe('new input on request_completed', () => {
  it('an OpenAI chat resending its history: prompt_length grows, new_input_length is the last user message', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'system', content: 'You plan trips.' }];
    const asked = ['Plan 3 days in Lisbon.', 'Add a day trip to Sintra.', 'Make day 2 cheaper, please.'];
    await withSecurityContext({ userId: 'u1', sessionId: 's1' }, async () => {
      for (const q of asked) {
        messages.push({ role: 'user', content: q });
        const res = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
        messages.push({ role: 'assistant', content: res.choices[0]!.message.content ?? '' });
      }
    });
    await eventually(() => h.recorded.length === 3);
    const md = h.recorded.map((e) => e.metadata!);
    expect(md.map((x) => x.new_input_length)).toEqual(asked.map((q) => q.length));
    expect(md.map((x) => x.turn_index)).toEqual([1, 2, 3]);
    const totals = md.map((x) => x.prompt_length as number);
    expect(totals[2]).toBeGreaterThan(totals[1]!);
    expect(totals[1]).toBeGreaterThan(totals[0]!);
  });

  it('an OpenAI agent step: the tool result is the new input', async () => {
    const result = '{"status":"shipped","eta":"tomorrow"}';
    await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'user', content: 'Where is order 42?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'lookup_order', arguments: '{"id":42}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'c1', content: result },
      ],
    });
    await eventually(() => h.recorded.length === 1);
    expect(h.recorded[0]!.metadata).toMatchObject({ new_input_length: result.length, turn_index: 2 });
  });

  it('one-off calls outside any conversation carry no turn index', async () => {
    await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello' }],
    });
    await eventually(() => h.recorded.length === 1);
    expect(h.recorded[0]!.metadata).toMatchObject({ new_input_length: 5 });
    expect(h.recorded[0]!.metadata).not.toHaveProperty('turn_index');
  });

  it('embeddings inside a session: the input is new, and there is no turn', async () => {
    await withSecurityContext({ userId: 'u1', sessionId: 's1' }, () =>
      openai.embeddings.create({ model: 'text-embedding-3-small', input: ['first text', 'second'] }),
    );
    await eventually(() => h.recorded.length === 1);
    expect(h.recorded[0]!.metadata).toMatchObject({
      new_input_length: 'first text'.length + 'second'.length,
    });
    expect(h.recorded[0]!.metadata).not.toHaveProperty('turn_index');
  });

  it('Anthropic tool_result blocks count as new input; the system prompt does not', async () => {
    await anthropic.messages.create({
      model: 'claude-3-5-haiku-latest',
      max_tokens: 50,
      system: 'You are a coding agent.',
      messages: [
        { role: 'user', content: 'Run the tests.' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'run_tests', input: {} }] },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: 't1', content: 'FAIL src/a.test.ts (1 failed)' }],
        },
      ],
    });
    await eventually(() => h.recorded.length === 1);
    expect(h.recorded[0]!.metadata).toMatchObject({
      new_input_length: 'FAIL src/a.test.ts (1 failed)'.length,
      turn_index: 2,
    });
  });
});
