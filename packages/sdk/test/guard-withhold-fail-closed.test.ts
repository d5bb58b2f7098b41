import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { setTelemetryErrorCounter } from '../src/errors.ts';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { openaiChatAdapter } from '../src/instrumentation/openai-chat.ts';
import type { ProviderAdapter } from '../src/instrumentation/adapter.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * piiGuard redact's rewrite fails, and then writing the withhold marker fails too (an item or
 * response the adapter cannot write to). Before, the stream delivered that item as the provider
 * sent it and a complete response came back raw: the address reached the app. Now the read
 * fails with OutputBlockedError (fail closed), reported, and nothing of the address is handed
 * over. Through openai 7 against the fake server; the adapter's write is made to throw by
 * replacing it for the test (real servers' JSON is always writable, so no payload does it).
 */

const PIECES = ['Write to jane.do', 'e@example.com', ' today.'];
const leaks = (v: unknown) => /jane|e@example|example\.com/.test(JSON.stringify(v));

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/chat/completions')) return undefined;
  const base = { id: 'chatcmpl-w', created: 1, model: 'gpt-4o-mini' };
  if (req.body.stream !== true)
    return {
      kind: 'json',
      body: {
        ...base,
        object: 'chat.completion',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: PIECES.join(''), refusal: null },
            finish_reason: 'stop',
          },
        ],
      },
    };
  const chunk = (delta: unknown, finish: string | null = null) => ({
    data: { ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] },
  });
  return {
    kind: 'sse',
    events: [...PIECES.map((t) => chunk({ content: t })), chunk({}, 'stop'), { data: '[DONE]' }],
  };
}

const h = useInstrHarness({ script });
const adapter = openaiChatAdapter as { -readonly [K in keyof ProviderAdapter]: ProviderAdapter[K] };
const original = { rewrite: adapter.rewriteStreamItem, texts: adapter.outputTexts };
const reported: string[] = [];

afterEach(() => {
  adapter.rewriteStreamItem = original.rewrite;
  adapter.outputTexts = original.texts;
  setTelemetryErrorCounter(undefined);
});

function client() {
  reported.length = 0;
  setTelemetryErrorCounter({ recordTelemetryError: (component) => reported.push(component) });
  return instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
    ...h.options(),
    guards: { output: [piiGuard({ directions: ['output'] })] },
  });
}

const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };

describe('the withhold marker cannot be written: fail closed', () => {
  it('streamed: the read fails at that item, no piece of the address delivered', async () => {
    const c = client();
    let calls = 0;
    // The first chunk is rewritten; from the second on every write throws (rewrite and marker).
    adapter.rewriteStreamItem = (item, rw) => {
      if (++calls >= 2) throw new TypeError('cannot write');
      return original.rewrite!(item, rw);
    };
    const s = await c.chat.completions.create({ ...ask, stream: true });
    const got: unknown[] = [];
    const read = (async () => {
      for await (const x of s) got.push(x);
    })();
    await expect(read).rejects.toBeInstanceOf(OutputBlockedError);
    expect(leaks(got)).toBe(false);
    expect(got).toHaveLength(1);
    expect(reported).toContain('guard');
  });

  it('not streamed: the call rejects instead of returning the raw response', async () => {
    const c = client();
    adapter.outputTexts = (data, body) => {
      const t = original.texts!(data, body)!;
      return {
        ...t,
        write: () => {
          throw new TypeError('cannot write');
        },
      };
    };
    await expect(c.chat.completions.create(ask)).rejects.toBeInstanceOf(OutputBlockedError);
    expect(reported).toContain('guard');
  });
});
