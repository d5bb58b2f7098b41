// An embeddings call has no output: the limiter's body estimate guesses that from the model's
// name (an "embed" in it), but the instrumentation knows the operation. With the estimate
// taken from the limiter (44a2df2), an embeddings model named otherwise (an Azure deployment,
// voyage-3, bge-m3) reserved 1,024 output tokens and, as embeddings usage reports no output,
// settled them too: every call charged 1,024 tokens it never used (0 before).
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { RateLimiter, type AcquireRequest } from '@llmsec/ratelimit';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';

const h = useInstrHarness();

function recordedLimiter() {
  const limiter = new RateLimiter({ tiers: { free: { tokensPerMinute: 10_000_000 } }, defaultTier: 'free' });
  const acquired: AcquireRequest[] = [];
  const settled: Array<{ tokens: number }> = [];
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

describe('rate limiting estimate: embeddings', () => {
  for (const model of ['text-embedding-3-small', 'prod-vectors', 'voyage-3']) {
    it(`reserves and settles no output tokens for embeddings with model ${model}`, async () => {
      const { limiter, acquired, settled } = recordedLimiter();
      const c = instrumentClient(
        new OpenAI({ apiKey: 'test', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
        {
          ...h.options(),
          limiter,
        },
      );
      await c.embeddings.create({ model, input: 'abcdefgh' });
      await eventually(() => settled.length === 1);
      const input = limiter.estimateRequest({ model, input: 'abcdefgh' }).inputTokens;
      expect(acquired.map((r) => r.estimatedTokens)).toEqual([input]);
      // The fake reports prompt_tokens 2 and no output.
      expect(settled.map((u) => u.tokens)).toEqual([2]);
    });
  }
});
