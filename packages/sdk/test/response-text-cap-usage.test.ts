import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { MAX_KEPT_TEXT_CHARS } from '../src/instrumentation/kept-text.ts';
import type { OutputGuard } from '../src/instrumentation/types.ts';
import { chatCompletion } from './fixtures/chat-reply.ts';
import { eventually, useInstrHarness, streamTextTruncations } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * A guarded complete response blocked for its length (its answer past MAX_KEPT_TEXT_CHARS,
 * filter `stream_limit`, response-text-cap.test.ts) was read and its tokens spent, as any other
 * blocked response's were: its request_completed carries the response's model, tokens and cost,
 * and the rate limiter's lease settles on them. Before (ff5b2f75) the call failed with no summary:
 * 0 tokens, cost 0, the lease settled on its estimate. The call is guarded, so nothing of its
 * text was a truncated telemetry copy: `stream_text_truncated` is not counted.
 */

const USAGE = { prompt_tokens: 7, completion_tokens: 9_000_001, total_tokens: 9_000_008 };
const CHAT = { id: 'chatcmpl-cap-usage', created: 1, model: 'gpt-4o-2024-08-06' };

let body: unknown = {};

const h = useInstrHarness({
  script: (req: FakeRequest): FakeResponse | undefined =>
    req.path.endsWith('/v1/chat/completions') ? { kind: 'json', body } : undefined,
});

/** An output guard that passes everything: the call is guarded, nothing else changes. */
const pass: OutputGuard = { name: 'pass', layer: 'output', checkResponse: () => ({ action: 'allow' }) };

const truncations = (): Promise<number> => streamTextTruncations(h.reader);

describe('a guarded complete response blocked past 32 Mi characters', () => {
  it("records the response's model, tokens and cost, and the lease settles on them", async () => {
    const settled: number[] = [];
    const limiter = {
      acquire: async () => ({ allowed: true, retryAfterMs: 0, lease: {} }),
      settle: (_l: unknown, u: { tokens: number }) => void settled.push(u.tokens),
      cancel: () => undefined,
    };
    body = chatCompletion(CHAT, { content: 'a'.repeat(MAX_KEPT_TEXT_CHARS + 1) }, { usage: USAGE });
    const before = await truncations();
    const c = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 2 }), {
      ...h.options(),
      limiter,
      guards: { output: [pass] },
    });
    let err: unknown;
    try {
      await c.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutputBlockedError);
    expect((err as OutputBlockedError).filter).toBe('stream_limit');
    // A bound on a hang, not a measure: the event is recorded as the call fails.
    await eventually(() => h.recorded.some((e) => e.category === 'request_completed'), 30_000);
    const completed = h.recorded.filter((e) => e.category === 'request_completed');
    expect(completed.map((e) => e.metadata)).toMatchObject([
      {
        model: CHAT.model,
        prompt_tokens: USAGE.prompt_tokens,
        completion_tokens: USAGE.completion_tokens,
        outcome: 'blocked',
        blocked: true,
      },
    ]);
    expect(completed[0]!.metadata?.cost_usd).toBeGreaterThan(0);
    expect(settled).toEqual([USAGE.prompt_tokens + USAGE.completion_tokens]);
    expect((await truncations()) - before).toBe(0);
  });
});
