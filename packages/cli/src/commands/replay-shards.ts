// Type only: ioredis is loaded when --state asks for it, not on every replay's start-up.
import type { connectRedis } from '@llmsec/ratelimit/redis';

/**
 * A barrier in Redis: counts this shard as arrived at `key` (done reading, or done flushing) and
 * waits until all `shards` have, up to 10 min. Resolves false on the deadline.
 */
export async function shardBarrier(
  redis: Awaited<ReturnType<typeof connectRedis>>,
  key: string,
  shards: number,
): Promise<boolean> {
  await redis.incr(key);
  await redis.pexpire(key, 3_600_000);
  const deadline = Date.now() + 600_000;
  while (Date.now() < deadline) {
    if (Number(await redis.get(key)) >= shards) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
