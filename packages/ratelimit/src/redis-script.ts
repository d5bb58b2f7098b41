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
    if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
    return client.evalBuffer(script.lua, ...args).then(map);
  });
}
