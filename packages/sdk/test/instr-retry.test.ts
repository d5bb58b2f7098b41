import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instrumentClient, type InputGuard, type LimiterLike } from '../src/instrumentation/index.ts';
import { withSecurityContext } from '../src/context.ts';
import { createInstrHarness, eventually, type InstrHarness } from './fixtures/instr-harness.ts';

/**
 * A call the client library retries (500, then 200) is one call: its input phase (guards, body
 * rewrite, lease: call-input-phase.ts) runs once, at the first attempt, and every attempt sends
 * the rewritten body. The client calls prepareOptions again with the same options at each
 * attempt (prepare-hook.ts); LlmCall's once-per-call claim answers the retry with the first
 * attempt's phase. Without the claim the guards ran and the limiter acquired once per attempt
 * (an input guard's event twice, a lease never settled); no test retried a request.
 */

let h: InstrHarness;
let failNext = false;
beforeAll(async () => {
  h = await createInstrHarness({
    script: () => {
      if (!failNext) return undefined;
      failNext = false;
      return { kind: 'error', status: 500, message: 'try again', headers: { 'retry-after-ms': '1' } };
    },
  });
});
afterAll(() => h.close());

function counting(): { guard: InputGuard; checks: string[] } {
  const checks: string[] = [];
  const guard: InputGuard = {
    name: 'redact-secret',
    layer: 'test',
    check(input) {
      checks.push(input.messages.map((m) => m.content).join('|'));
      return {
        action: 'modify',
        messages: input.messages.map((m) => ({ ...m, content: m.content.replace('s3cret', '[redacted]') })),
      };
    },
  };
  return { guard, checks };
}

function recordingLimiter(): { limiter: LimiterLike; calls: string[] } {
  const calls: string[] = [];
  const limiter: LimiterLike = {
    acquire: () => {
      calls.push('acquire');
      return Promise.resolve({ allowed: true, retryAfterMs: 0, lease: { id: `L${calls.length}` } });
    },
    settle: (lease) => void calls.push(`settle ${(lease as { id: string }).id}`),
    cancel: (lease) => void calls.push(`cancel ${(lease as { id: string }).id}`),
  };
  return { limiter, calls };
}

const userText = (body: Record<string, unknown>): string => {
  const messages = body.messages as Array<{ role: string; content: unknown }>;
  return String(messages.find((m) => m.role === 'user')!.content);
};

describe('a retried request is one call', () => {
  it('openai: guards and lease once, the rewritten body on both attempts', async () => {
    h.reset();
    const { guard, checks } = counting();
    const { limiter, calls } = recordingLimiter();
    const client = instrumentClient(
      new OpenAI({ apiKey: 'test', baseURL: h.fake.openaiBaseURL, maxRetries: 1 }),
      {
        ...h.options(),
        guards: { input: [guard] },
        limiter,
      },
    );
    failNext = true;
    await withSecurityContext({ userId: 'u-1' }, () =>
      client.chat.completions.create({
        model: 'gpt-4o-mini',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'my password is s3cret' }],
      }),
    );
    await eventually(() => calls.length === 2);
    expect(h.fake.requests.map((r) => userText(r.body))).toEqual([
      'my password is [redacted]',
      'my password is [redacted]',
    ]);
    expect(checks).toEqual(['my password is s3cret']);
    expect(calls).toEqual(['acquire', 'settle L1']);
    expect(h.recorded.map((e) => e.category)).toEqual(['request_completed']);
  });

  it('anthropic: guards and lease once, the rewritten body on both attempts', async () => {
    h.reset();
    const { guard, checks } = counting();
    const { limiter, calls } = recordingLimiter();
    const client = instrumentClient(new Anthropic({ apiKey: 'test', baseURL: h.fake.url, maxRetries: 1 }), {
      ...h.options(),
      guards: { input: [guard] },
      limiter,
    });
    failNext = true;
    await withSecurityContext({ userId: 'u-2' }, () =>
      client.messages.create({
        model: 'claude-3-5-haiku-latest',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'my password is s3cret' }],
      }),
    );
    await eventually(() => calls.length === 2);
    expect(h.fake.requests.map((r) => userText(r.body))).toEqual([
      'my password is [redacted]',
      'my password is [redacted]',
    ]);
    expect(checks).toEqual(['my password is s3cret']);
    expect(calls).toEqual(['acquire', 'settle L1']);
    expect(h.recorded.map((e) => e.category)).toEqual(['request_completed']);
  });
});
