import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';

/**
 * `client.withOptions({...})` (a per-request timeout, other headers) returns a new client of
 * the same class with resource objects of its own. instrumentClient wraps the client's own
 * resource objects, so the copy's methods were the library's: every call on it, beta or not,
 * sent the prompt with no span, no event and no guard. The copy is instrumented too now.
 */

const EMAIL = 'jane.doe@example.com';
const PROMPT = `Mail the summary to ${EMAIL}`;

const h = useInstrHarness();

function options() {
  return { ...h.options(), guards: { output: [piiGuard({ directions: ['output'] })] } };
}

describe('instrumentClient: a withOptions() copy is instrumented as its parent', () => {
  it('openai: chat.completions.create on a copy is traced and its answer redacted', async () => {
    const openai = instrumentClient(
      new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      options(),
    );
    const copy = openai.withOptions({ timeout: 5000 });
    expect(copy).toBeInstanceOf(OpenAI);
    expect(copy.timeout).toBe(5000);
    const r = await copy.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: PROMPT }],
    });
    expect(r.choices[0]?.message.content).toContain('[REDACTED:email]');
    await eventually(() => h.spans().length === 1);
    expect(h.spans().map((s) => s.name)).toEqual(['chat gpt-4o-mini']);
  });

  it('anthropic: beta.messages.create on a copy of a copy is traced, one span (the copy’s own tracing off)', async () => {
    const anthropic = instrumentClient(
      new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }),
      options(),
    );
    const copy = anthropic.withOptions({ timeout: 5000 }).withOptions({ maxRetries: 0 });
    const m = await copy.beta.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 100,
      messages: [{ role: 'user', content: PROMPT }],
    });
    const text = m.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    expect(text).toContain('[REDACTED:email]');
    expect(text).not.toContain(EMAIL);
    await eventually(() => h.spans().length >= 1);
    expect(h.spans().map((s) => s.name)).toEqual(['chat claude-haiku-4-5']);
    expect(h.recorded.filter((e) => e.category === 'request_completed')).toHaveLength(1);
  });

  it('the parent stays instrumented once', () => {
    const openai = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL }), options());
    const create = openai.chat.completions.create;
    openai.withOptions({ timeout: 1 });
    expect(openai.chat.completions.create).toBe(create);
  });
});
