// @llmsec/ratelimit/redis: the Redis key layout (`llmsec:{<subject>}:rl`, one per subject, the
// leases inside it; `leaseKey` names the sorted set of the layout before, which reset still
// deletes) and the connection helper the CLI uses, for operator tooling. Applications pass
// their own ioredis client to `RedisStore` and need neither.
export { rlKey, leaseKey } from './keys.ts';
export { connectRedis } from './redis-client.ts';
export type { ConnectRedisOptions } from './redis-client.ts';
