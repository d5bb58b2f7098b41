// @llmsec/ratelimit/redis: the Redis key layout (`llmsec:{<subject>}:rl` and
// `llmsec:{<subject>}:lease`, one hash tag per subject), the connection helper the CLI uses and
// the fleet's active bans (`listFleetBans`, `llmsec limits bans`), for operator tooling.
// Applications pass their own ioredis client to `RedisStore` and need none of them.
export { rlKey, leaseKey } from './keys.ts';
export { connectRedis } from './redis-client.ts';
export type { ConnectRedisOptions } from './redis-client.ts';
export { listFleetBans } from './fleet-ban-list.ts';
export type { FleetBan, FleetBanList } from './fleet-ban-list.ts';
