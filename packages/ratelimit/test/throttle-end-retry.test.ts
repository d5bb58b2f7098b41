// An estimate refused over a throttled limit at the last millisecond of the throttle: the
// wait is still positive. retryAfterMs 0 there read as "no wait can cure it" (retryCannotHelp),
// so the HTTP middleware sent X-Should-Retry: false and no Retry-After for a request admitted
// one millisecond later (review of 2b40c40).
import { expect, it } from 'vitest';
import { ManualClock } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { retryCannotHelp } from '../src/http/headers.ts';
import { RateLimiter } from '../src/limiter.ts';
import { MemoryStore } from '../src/memory-store.ts';
import { throttleRetry } from '../src/redis-lua.ts';
import { THROTTLED_AT_2_HALF_LIFE_1_MIN } from './enforcement-presets.ts';

const db = useRedis();

it('an estimate refused as the throttle ends waits at least 1 ms, and a retry is not ruled out', async () => {
  const clock = new ManualClock(Date.parse('2026-12-06T00:00:00.000Z'));
  const lim = new RateLimiter({
    store: new MemoryStore({ clock }),
    clock,
    tiers: { t: { tokensPerMinute: 1_000 } },
    defaultTier: 't',
    failurePolicy: 'closed',
    commandTimeoutMs: 5_000,
    enforcement: THROTTLED_AT_2_HALF_LIFE_1_MIN,
  });
  // Score 4, throttled at 2, half-life 1 min: the decayed score is exactly 2 one minute on.
  expect(await lim.recordViolation('s', 4)).toBe('throttled');
  clock.advance(60_000);
  const last = await lim.acquire({ subject: 's', estimatedTokens: 700 });
  expect(last).toMatchObject({ allowed: false, reason: 'estimate_exceeds_limit', level: 'throttled' });
  expect(last.retryAfterMs).toBe(1);
  expect(retryCannotHelp(last)).toBe(false);
  clock.advance(1);
  expect(await lim.acquire({ subject: 's', estimatedTokens: 700 })).toMatchObject({ allowed: true });
});

it("the acquire scripts' throttle wait (throttleRetry, on a real Redis) is at least 1 ms as well", async () => {
  // The same state (score 4 set at 0, half-life 1 min, throttled at 2) at the throttle's last
  // millisecond, and well before it: the Lua statement every acquire script (template,
  // single, pair, batched) runs on this refusal. A real clock cannot land on the boundary.
  const script = `local now = tonumber(ARGV[1])\nlocal retry = 0\n${throttleRetry('4', '0', '60000', '2')}\nreturn retry`;
  expect(await db.redis.eval(script, 0, '60000')).toBe(1);
  expect(await db.redis.eval(script, 0, '59999.5')).toBe(1);
  expect(await db.redis.eval(script, 0, '20000')).toBe(40_000);
});
