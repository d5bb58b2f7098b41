import { describe, expect, it } from 'vitest';
import { instrumentClient, type OutputGuard } from '../src/instrumentation/index.ts';
import { useInstrHarness, eventually } from './fixtures/instr-harness.ts';

/**
 * A call's end is recorded once (call.ts `finish`), and a result that arrives after it changes
 * nothing (call-response.ts reads the call's `ended`, a getter over its private `finished`
 * since c9061d0): no output guard runs on it, no event, the data passes as it is. The two
 * clients parse nothing once their response failed, so this is reached only through the
 * APIPromise shape itself: a fake one whose response fails and whose body is parsed anyway.
 * Nothing covered it: a getter that always said false, or no check at all, passed the suite.
 */

const h = useInstrHarness();

/** A client with the openai chat shape whose create() returns a fake APIPromise. */
function fakeClient(responsePromise: Promise<unknown>): {
  client: { chat: { completions: { create: (body: object) => unknown } } };
  parse: (data: unknown) => unknown;
} {
  let onData: ((data: unknown) => unknown) | undefined;
  const apiPromise = {
    responsePromise,
    asResponse: () => responsePromise,
    _thenUnwrap(fn: (data: unknown) => unknown) {
      onData = fn;
      return apiPromise;
    },
  };
  return {
    client: { chat: { completions: { create: () => apiPromise } } },
    parse: (data) => onData!(data),
  };
}

describe('a result after the call ended', () => {
  it('runs no output guard, records nothing more and is returned as it is', async () => {
    const checked: string[] = [];
    const guard: OutputGuard = {
      name: 'rewrite',
      layer: 'rewrite',
      checkResponse: (out) => {
        checked.push(String(out.text));
        return { action: 'modify', text: 'rewritten' };
      },
    };
    const failed = Promise.reject(new Error('connection reset'));
    const { client, parse } = fakeClient(failed);
    const c = instrumentClient(client, { ...h.options(), guards: { output: [guard] } });
    c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    await eventually(() => h.recorded.length === 1);
    expect(h.recorded.map((e) => [e.category, e.metadata?.outcome])).toEqual([
      ['request_completed', 'error'],
    ]);
    const data = {
      id: 'x',
      object: 'chat.completion',
      model: 'gpt-4o-mini',
      choices: [{ index: 0, message: { role: 'assistant', content: 'late' }, finish_reason: 'stop' }],
    };
    expect(parse(data)).toBe(data);
    await new Promise((r) => setTimeout(r, 10));
    expect(checked).toEqual([]);
    expect(h.recorded).toHaveLength(1);
  });
});
