// @llmsec/ratelimit/redis: the Redis key layout (`llmsec:{<subject>}:rl` and
// `llmsec:{<subject>}:lease`, one hash tag per subject) and the connection helper the CLI uses, for operator tooling. Applications
// pass their own ioredis client to `RedisStore` and need neither.
export { rlKey, leaseKey } from './keys.ts';
export { connectRedis } from './redis-client.ts';
export type { ConnectRedisOptions } from './redis-client.ts';
