// The request estimate's tokenizer loaded on the first estimate: the first request through the
// middleware or the SDK paid ~150 ms idle, 5.7 s measured at load 17. A RateLimiter now loads it
// in its constructor (warmTokenizer), unless told not to; not on a timer, which held the loop
// while the first acquire's store command was in flight (redis-coalesce's lone-acquire test).
// Observed through the loader's cache, not timed: this file runs in its own module graph.
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../src/limiter.ts';
import { encodingLoaded } from '../src/estimate/tokenizer.ts';

const tiers = { free: { requestsPerMinute: 10 } };
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));

describe('RateLimiter warms the tokenizer', () => {
  it('not with warmTokenizer: false', async () => {
    new RateLimiter({ tiers, warmTokenizer: false });
    for (let i = 0; i < 5; i++) await tick();
    expect(encodingLoaded('o200k_base')).toBe(false);
  });

  it('in the constructor, before any estimate', () => {
    const limiter = new RateLimiter({ tiers });
    expect(encodingLoaded('o200k_base')).toBe(true); // no estimate asked for, no timer waited
    expect(
      limiter.estimateRequest({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello there' }] })
        .inputTokens,
    ).toBeGreaterThan(0);
  });
});
