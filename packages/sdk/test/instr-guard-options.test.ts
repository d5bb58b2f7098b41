/**
 * A `guards` option that is not `{ input?: [...], output?: [...] }` is refused at construction
 * with a TypeError naming it. Found in the acceptance sweep from the packed tarballs: a
 * JavaScript caller writing `instrumentClient(client, { guards: [piiGuard()] })` (or the guard
 * itself, `defaultGuards` uncalled, a misspelt `outputs`) got a client that ran no guard at
 * all, silently: an address in the answer passed piiGuard's redact and block modes.
 */
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { defaultGuards, instrumentClient, LlmClientInstrumentation, piiGuard } from '../src/index.ts';
import type { LlmInstrumentationOptions } from '../src/instrumentation/index.ts';

const openai = () => new OpenAI({ apiKey: 'test', baseURL: 'http://127.0.0.1:9/v1', maxRetries: 0 });
const withGuards = (guards: unknown) => ({ guards }) as LlmInstrumentationOptions;

describe('instrumentClient: the guards option', () => {
  it.each([
    [
      'an array of guards',
      [piiGuard({ mode: 'redact' })],
      /guards must be \{ input\?: \[\.\.\.\], output\?: \[\.\.\.\] \}.*, got an array/,
    ],
    ['a guard itself', piiGuard({ mode: 'block' }), /unknown key "\w+" in guards \(want input, output\)/],
    ['defaultGuards not called', defaultGuards, /guards must be .*, got a function/],
    ['a misspelt key', { outputs: [piiGuard()] }, /unknown key "outputs" in guards/],
    [
      'a side that is one guard, not a list',
      { output: piiGuard() },
      /guards\.output must be an array of guards/,
    ],
    ['a string', 'pii', /guards must be .*, got a string/],
  ])('refuses %s', (_name, guards, message) => {
    expect(() => instrumentClient(openai(), withGuards(guards))).toThrow(TypeError);
    expect(() => instrumentClient(openai(), withGuards(guards))).toThrow(message);
  });

  it('takes defaultGuards(), one side, empty or undefined sides, and no guards at all (undefined or null)', () => {
    for (const guards of [
      defaultGuards({ allowedTools: ['search'] }),
      { output: [piiGuard()] },
      { input: [], output: undefined },
      {},
      undefined,
      null,
    ]) {
      expect(() => instrumentClient(openai(), withGuards(guards))).not.toThrow();
    }
  });

  it('takes a side that is null as none, as guards null (before 489df95, { output: null } ran no output guard)', () => {
    for (const guards of [
      { input: null, output: [piiGuard()] },
      { input: [piiGuard()], output: null },
    ]) {
      expect(() => instrumentClient(openai(), withGuards(guards))).not.toThrow();
    }
  });

  it('LlmClientInstrumentation.setConfig refuses it, keeping the config before it', async () => {
    // Before: setConfig took it and dropped the runtime, and the next one was built on the next
    // call: every instrumented call of the application threw the TypeError from create().
    const llm = new LlmClientInstrumentation(withGuards(defaultGuards()));
    try {
      expect(() => llm.setConfig(withGuards([piiGuard()]))).toThrow(/got an array/);
      expect(() => llm.setConfig({ maxContentChars: 0 })).toThrow(TypeError);
      expect(Array.isArray(llm.getConfig().guards?.output)).toBe(true);
      const client = llm.instrumentClient(openai());
      const call = () =>
        client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
      expect(call).not.toThrow();
      await expect(call()).rejects.toBeInstanceOf(OpenAI.APIConnectionError);
    } finally {
      llm.disable();
    }
  });

  it('LlmClientInstrumentation refuses it too, at construction', () => {
    expect(() => new LlmClientInstrumentation(withGuards([piiGuard()]))).toThrow(/got an array/);
    const llm = new LlmClientInstrumentation(withGuards(defaultGuards()));
    llm.disable();
  });
});
