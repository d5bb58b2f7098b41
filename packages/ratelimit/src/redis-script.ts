/**
 * Scripts called the way the benchmark's EVALSHA ceiling calls `return 1`: EVALSHA straight
 * through the client, re-sent once as EVAL (which also caches it) when the server answers
 * NOSCRIPT (restarted, flushed, or a Cluster node seen for the first time). ioredis's
 * defineCommand does the same with more work per call (a command subclass, a closure around
 * its reject, a WeakSet lookup, a catch promise); on the acquire path that was measurable.
 */
import { createHash } from 'node:crypto';

export interface ShaScript {
  readonly sha: string;
  readonly lua: string;
  /** One subject without a concurrency limit: called without the lease key and lease id. */
  readonly lean: boolean;
}

export function shaScript(lua: string, lean = false): ShaScript {
  return { sha: createHash('sha1').update(lua).digest('hex'), lua, lean };
}

type Arg = string | number;

/** The ioredis methods used (present at run time on Redis and Cluster, absent from its typings). */
export interface EvalClient {
  evalshaBuffer(sha: string, ...args: Arg[]): Promise<Buffer>;
  evalBuffer(lua: string, ...args: Arg[]): Promise<Buffer>;
}

/** Runs `script` with `args` (numKeys, keys, argv) and maps the reply; NOSCRIPT: once more as EVAL. */
export function evalSha<T>(
  client: EvalClient,
  script: ShaScript,
  args: Arg[],
  map: (reply: Buffer) => T,
): Promise<T> {
  return client.evalshaBuffer(script.sha, ...args).then(map, (err: unknown) => {
    if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw explainScriptError(err);
    return client.evalBuffer(script.lua, ...args).then(map, (e: unknown) => {
      throw explainScriptError(e);
    });
  });
}

export const NEEDS_REDIS_6 = 'RedisStore needs Redis 6.0 or later (its scripts write SET ... KEEPTTL)';

/**
 * A server before 6.0 answers the kept state TTL's `SET … KEEPTTL` (redis-lua-expiry.ts) with
 * "ERR syntax error", and only from a subject's second write on (the first sets a TTL): the
 * limiter would go to its failure policy, subject by subject, reporting a bare syntax error.
 * No other command of the scripts can draw that reply from 2.6 on, so it is named for what
 * it is. Same error object (its class is the store_errors label), the message prefixed once.
 */
export function explainScriptError(err: unknown): unknown {
  if (
    err instanceof Error &&
    err.message.includes('ERR syntax error') &&
    !err.message.startsWith(NEEDS_REDIS_6)
  )
    err.message = `${NEEDS_REDIS_6}; the server answered: ${err.message}`;
  return err;
}
