import type { Redis } from 'ioredis';

/**
 * Makes the Redis server `node` is connected to refuse every write (`OOM command not allowed
 * when used memory > 'maxmemory'`) while it answers everything else: `maxmemory-policy
 * noeviction` and `maxmemory` at half the memory it uses now. Resolves with the undo (no limit).
 *
 * Why half and not just over: a limit 4 KB over the memory in use, filled until the first
 * refusal, left the server at the edge, where `used_memory` moves by tens of KB with its
 * clients' query and reply buffers (Redis grows them for a pipeline and shrinks them in
 * clientsCron; a Cluster master measured 424 bytes under its limit right after the refusal,
 * then its client memory went 23 KB, 99 KB, 69 KB). A short write then went through between
 * two refusals: the degraded probe's write in the full master's slot was refused, then taken
 * 50 ms later, the engine went back to shared mode and its next round, bigger, was refused: a
 * second episode (redis-cluster-oom-probe under load). Logging used_memory hid it: the
 * logger's own connection added 20-40 KB. Half leaves a margin of hundreds of KB, far beyond
 * what buffers or the tests' few keys move; noeviction evicts nothing.
 */
export async function refuseWrites(node: Redis): Promise<() => Promise<unknown>> {
  const used = Number(/used_memory:(\d+)/.exec(await node.info('memory'))![1]);
  await node.config('SET', 'maxmemory-policy', 'noeviction');
  await node.config('SET', 'maxmemory', String(Math.floor(used / 2)));
  return () => node.config('SET', 'maxmemory', '0');
}
