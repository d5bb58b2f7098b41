// RedisStore needs Redis 6.0 (the kept state TTL's SET ... KEEPTTL, redis-lua-expiry.ts). An
// older server answers that SET with "ERR syntax error", and only from a subject's second write
// on; the error must say what is wrong. Redis 7 gives the same reply to a SET whose options
// conflict (KEEPTTL with PX), which these scripts send on a real server, through both ways a
// script is sent: alone (EVALSHA, then EVAL on NOSCRIPT) and batched in one EVALSHA.
import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { ScriptCoalescer } from '../src/redis-coalesce.ts';
import { CLOCK_PRELUDE } from '../src/redis-lua-batch.ts';
import { evalSha, NEEDS_REDIS_6, shaScript, type EvalClient } from '../src/redis-script.ts';

const db = useRedis();

// What a pre-6.0 server says to `SET key value KEEPTTL`: a syntax error from inside the script.
const rejected = shaScript(`${CLOCK_PRELUDE}
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL', 'PX', 5)
return 1
`);

describe('a server that rejects SET ... KEEPTTL', () => {
  it('a script sent alone fails naming Redis 6.0, the reply kept, its class unchanged', async () => {
    const client = db.redis as unknown as EvalClient;
    // Twice: the first is sent as EVAL after NOSCRIPT, the second as EVALSHA.
    for (let i = 0; i < 2; i++) {
      const err = (await evalSha(client, rejected, [1, 'k', 'v'], (r) => r).catch(
        (e: unknown) => e,
      )) as Error;
      expect(err).toBeInstanceOf(ReplyError);
      expect(err.message.startsWith(`${NEEDS_REDIS_6}; the server answered: `)).toBe(true);
      expect(err.message).toContain('ERR syntax error');
    }
  });

  it('calls batched in one EVALSHA each fail naming Redis 6.0', async () => {
    const real = db.redis as unknown as EvalClient;
    const numKeys: unknown[] = []; // of every script command sent
    const calls = new ScriptCoalescer({
      evalshaBuffer: (sha, ...args) => (numKeys.push(args[0]), real.evalshaBuffer(sha, ...args)),
      evalBuffer: (lua, ...args) => (numKeys.push(args[0]), real.evalBuffer(lua, ...args)),
    });
    // Same tick: one batched EVALSHA of two calls (the key differs, so they share the batch).
    const errs = (await Promise.all(
      ['a', 'b'].map((k) => calls.run(rejected, [1, k, 'v'], (r) => r).catch((e: unknown) => e)),
    )) as Error[];
    // The batch's two keys in each command sent (EVALSHA, then EVAL on NOSCRIPT): batched.
    expect(numKeys.length).toBeGreaterThan(0);
    for (const n of numKeys) expect(n).toBe(2);
    for (const err of errs) {
      expect(err).toBeInstanceOf(ReplyError);
      expect(err.message.startsWith(`${NEEDS_REDIS_6}; the server answered: `)).toBe(true);
      expect(err.message).toContain('ERR syntax error');
    }
  });
});
