/** What memoryRoom needs of an ioredis client (standalone or Cluster: EVAL is routed by its key). */
interface EvalClient {
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

/**
 * Reads `INFO memory` on the node that owns the key's slot (the script is routed by its one key,
 * which it does not touch) and answers the figures the out-of-memory check uses (each field read
 * at a line's start, so used_memory is not used_memory_rss's tail): used_memory,
 * maxmemory (0: no limit), mem_not_counted_for_evict (replication and AOF buffers, which the
 * check leaves out) and maxmemory_policy ('' if missing); false when a figure is missing.
 * Read-only: Redis 7.0 runs it while it refuses writes for memory (one that refuses it answers an
 * error reply: the pad, below).
 */
const MEMORY_LUA = `
local info = '\\n' .. redis.call('INFO', 'memory')
local used = string.match(info, '\\nused_memory:(%d+)')
local max = string.match(info, '\\nmaxmemory:(%d+)')
if used == nil or max == nil then return false end
return {
  used,
  max,
  string.match(info, '\\nmem_not_counted_for_evict:(%d+)') or '0',
  string.match(info, '\\nmaxmemory_policy:([%w%-]+)') or '',
}
`;

/**
 * Bytes the node owning `key`'s slot can still take before it refuses writes for memory
 * (`maxmemory` less the memory it counts; Infinity without a limit), or undefined when Redis does
 * not tell: INFO or EVAL refused (renamed, an ACL without them, as managed Redis may have), its
 * figures missing, or an evicting policy; the caller then learns the room by writing (a pad).
 * That figure is the room under `noeviction` only: under `allkeys-*` or `volatile-*` a Redis at
 * its limit takes a write by evicting other keys while INFO shows next to no room, so a probe
 * reading it never passed (an operator switching an out-of-memory Redis to `allkeys-lru` left the
 * engine degraded while Redis took every write: test/redis-oom-evicting.test.ts). Other failures
 * (a timeout, a lost connection) reject, as any call of the probe.
 */
export async function memoryRoom(client: EvalClient, key: string): Promise<number | undefined> {
  let reply: unknown;
  try {
    reply = await client.eval(MEMORY_LUA, 1, key);
  } catch (err) {
    if (isReplyError(err)) return undefined;
    throw err;
  }
  if (!Array.isArray(reply) || reply.length !== 4) return undefined;
  const [used, max, notCounted] = reply.slice(0, 3).map((v) => Number(v));
  if (!Number.isFinite(used) || !Number.isFinite(max) || !Number.isFinite(notCounted)) return undefined;
  if (max === 0) return Number.POSITIVE_INFINITY;
  if (String(reply[3]) !== 'noeviction') return undefined;
  return max - (used! - notCounted!);
}

/** An error reply from Redis (`ERR unknown command`, `NOPERM`, a script error), not a failure to reach it. */
function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}
