// The instrumentation reserves with @llmsec/ratelimit's own request estimate (RateLimiter's
// estimateRequest, estimateRequestBody: what its HTTP middleware reserves with). Before, it
// reserved prompt characters / 4 + max_tokens: a request carrying 24,000 characters of tool
// definitions, or of tool-call arguments in its history, reserved 27 tokens (9,996 now), so an app limited
// through the SDK let it past the token and cost limits the HTTP entry point would have held.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { estimateRequestBody, RateLimiter, type AcquireRequest } from '@llmsec/ratelimit';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { useInstrHarness, eventually } from './fixtures/instr-harness.ts';

const h = useInstrHarness();

/** A real limiter (in-process store) whose acquire requests and settles are recorded. */
function recordedLimiter() {
  const limiter = new RateLimiter({ tiers: { free: { tokensPerMinute: 10_000_000 } }, defaultTier: 'free' });
  const acquired: AcquireRequest[] = [];
  const settled: unknown[] = [];
  const acquire = limiter.acquire.bind(limiter);
  const settle = limiter.settle.bind(limiter);
  limiter.acquire = (req) => {
    acquired.push(req);
    return acquire(req);
  };
  limiter.settle = (lease, usage) => {
    settled.push(usage);
    return settle(lease, usage);
  };
  return { limiter, acquired, settled };
}

// ~24,000 characters each, under the 64,000 the estimate tokenizes exactly (past it, a sample).
const description = 'Looks the order up in the warehouse system. '.repeat(550);
const body = {
  model: 'gpt-4o-mini',
  max_tokens: 20,
  messages: [
    { role: 'user' as const, content: 'where is my order?' },
    {
      role: 'assistant' as const,
      content: null,
      tool_calls: [
        {
          id: 'call_1',
          type: 'function' as const,
          function: { name: 'lookup', arguments: JSON.stringify({ note: description }) },
        },
      ],
    },
    { role: 'tool' as const, tool_call_id: 'call_1', content: 'shipped' },
  ],
  tools: [
    {
      type: 'function' as const,
      function: { name: 'lookup', description, parameters: { type: 'object', properties: {} } },
    },
  ],
};

describe('rate limiting estimate', () => {
  it('acquires with the limiter estimate of the whole body: tool definitions and tool-call arguments counted', async () => {
    const { limiter, acquired, settled } = recordedLimiter();
    const c = instrumentClient(new OpenAI({ apiKey: 'test', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
      ...h.options(),
      limiter,
    });
    await c.chat.completions.create(body);
    await eventually(() => settled.length === 1);
    const expected = estimateRequestBody(body);
    expect(acquired).toHaveLength(1);
    expect(acquired[0]!.estimatedTokens).toBe(expected.totalTokens);
    // Both 24,000-character texts: far past the 23 tokens of characters / 4 over the messages' content.
    expect(acquired[0]!.estimatedTokens).toBeGreaterThan(8_000);
    // gpt-4o-mini is priced (0.15 / 0.6 micro-USD per token in, out): the cost follows the tokens.
    expect(acquired[0]!.estimatedCostMicroUsd).toBe(
      Math.ceil(expected.inputTokens * 0.15 + expected.outputTokens * 0.6),
    );
  });

  it('falls back to characters / 4 when the limiter estimate throws', async () => {
    const { limiter, acquired } = recordedLimiter();
    limiter.estimateRequest = () => {
      throw new Error('estimate broke');
    };
    const c = instrumentClient(new OpenAI({ apiKey: 'test', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
      ...h.options(),
      limiter,
    });
    const res = await c.chat.completions.create({
      model: 'gpt-4o-mini',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'hello there' }],
    });
    expect(res.choices).toBeDefined();
    // 'hello there' = 11 chars -> 3 + max_tokens 20.
    expect(acquired.map((r) => r.estimatedTokens)).toEqual([23]);
  });
});
