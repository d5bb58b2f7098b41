// The text of the lease's ZADD score (redis-lua-lease.ts leaseExpiry, formatted once per batch).
// It must be the text Redis's Lua bridge gave the number before (%.17g) for every reachable
// expiry (Redis's clock plus a leaseTtlMs up to Number.MAX_SAFE_INTEGER), and it must not
// depend on the width of a C long: Redis's Lua 5.1 converts a `%d` argument to `long`, 32 bits
// on a 32-bit build (`make 32bit`, which Redis supports) or an LLP64 port, where an epoch in ms
// (~1.8e12) overflows and every lease would be scored in the past (ZREMRANGEBYSCORE at the
// next acquire drops it: no concurrency limit at all).
import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { leaseExpiry } from '../src/redis-lua-lease.ts';

const db = useRedis();

/** Runs the prelude at clock `now` (ms) with lease TTL `ttl`; `lua32` emulates a 32-bit C long. */
async function scoreText(now: number, ttl: number, lua32 = false): Promise<[string, string]> {
  // A 32-bit long: string.format's %d casts the double to it; out of range, x86's conversion
  // gives LONG_MIN (the C behaviour is undefined). Other conversions take the double as is.
  const shadow = lua32
    ? `local format = string.format
local string = { format = function(f, x)
  if f == '%d' and (x >= 2^31 or x < -2^31) then x = -2^31 end
  return format(f, x)
end }
`
    : '';
  const lua = `local now = tonumber(ARGV[1])
${shadow}${leaseExpiry(String(ttl), true)}return { leaseExpS, string.format('%.17g', leaseExp) }`;
  return (await db.redis.eval(lua, 0, String(now))) as [string, string];
}

describe('the lease score sent to ZADD', () => {
  const clocks = [1_764_930_000_123.456, 1_764_930_000_999.999, 4_102_444_800_000.5];
  const ttls = [1, 1_500, 120_000, 86_400_000 * 365, Number.MAX_SAFE_INTEGER];

  it('is the text %.17g gives the expiry, for every reachable clock and lease TTL', async () => {
    for (const now of clocks) {
      for (const ttl of ttls) {
        const [sent, before] = await scoreText(now, ttl);
        expect(sent, `now ${now} ttl ${ttl}`).toBe(before);
        expect(sent, `now ${now} ttl ${ttl}`).toBe(String(Math.floor(now + ttl)));
      }
    }
  });

  it('does not depend on the width of a C long (a 32-bit Redis build)', async () => {
    for (const now of clocks) {
      for (const ttl of ttls) {
        const [sent] = await scoreText(now, ttl, true);
        expect(sent, `now ${now} ttl ${ttl}`).toBe(String(Math.floor(now + ttl)));
      }
    }
  });
});
