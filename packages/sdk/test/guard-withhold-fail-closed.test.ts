import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { setTelemetryErrorCounter } from '../src/errors.ts';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { openaiChatAdapter } from '../src/instrumentation/openai-chat.ts';
import type { ProviderAdapter } from '../src/instrumentation/adapter.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';
import { chatChunk, chatCompletion } from './fixtures/chat-reply.ts';

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
      body: chatCompletion(base, { content: PIECES.join(''), refusal: null }),
    };
  const chunk = (delta: unknown, finish: string | null = null) => chatChunk(base, delta, finish);
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
const REASON = 'guard_error: the text could not be withheld';

/**
 * The fail-closed block is reported as any output block: the error names its filter and reason
 * and carries the `output_filter_block` event recorded for it (before, 4245c9a's block had no
 * event: only a blocked request_completed and the telemetry error count showed it).
 */
async function expectReported(err: unknown, filter: string): Promise<void> {
  expect(err).toBeInstanceOf(OutputBlockedError);
  const blocked = err as OutputBlockedError;
  expect([blocked.filter, blocked.reason]).toEqual([filter, REASON]);
  await eventually(() => h.recorded.some((e) => e.category === 'request_completed'));
  const blocks = h.recorded.filter((e) => e.category === 'output_filter_block');
  expect(blocks).toHaveLength(1);
  expect(blocks[0]!.metadata).toMatchObject({ filter_name: filter, block_reason: REASON });
  expect(blocked.event).toBe(blocks[0]);
  expect(leaks(h.recorded.map((e) => e.metadata))).toBe(false);
}

function outcomes(): unknown[] {
  return h.recorded.filter((e) => e.category === 'request_completed').map((e) => e.metadata?.outcome);
}

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
    const err = await read.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(leaks(got)).toBe(false);
    // Every chunk was held (the address starts in the first); the held items are made what
    // the reader gets once the end check passed, all before the first goes out: none delivered.
    expect(got).toHaveLength(0);
    expect(reported).toContain('guard');
    await expectReported(err, 'stream_rewrite');
    // The address was held to the end check, which passed (redact); the held items then could
    // not be delivered: the call's outcome is the read that failed, not completed.
    expect(outcomes()).toEqual(['blocked']);
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
    const err = await c.chat.completions.create(ask).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(reported).toContain('guard');
    await expectReported(err, 'response_rewrite');
    expect(outcomes()).toEqual(['blocked']);
  });
});
