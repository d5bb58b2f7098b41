/**
 * An anonymous client (no user id, no token) is limited at its own tier and counted in its
 * address's shared budget, as two subjects: `ip:<bucket>#anonymous` at the user tier and
 * `ip:<bucket>` at `secondaryTier`. Found in the acceptance sweep from the packed tarballs: the
 * anonymous primary was `ip:<bucket>` itself, priced at the user tier (free, 20 rpm), while
 * every user's secondary `ip:<bucket>` was priced at `ip` (600 rpm). A GCRA bucket stores time,
 * so each anonymous request took 3 s of a 60 s bucket sized for 600: 20 anonymous requests,
 * within the client's own limit, left 0 of 100 users behind the address admitted (and its
 * refusals raised the address's violation score). Through the real middleware on MemoryStore,
 * a redis-server and a three-master Redis Cluster: the same decisions on each.
 */
import { createServer, type Server } from 'node:http';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startRedis,
  startRedisCluster,
  type RedisClusterHandle,
  type RedisHandle,
} from '../../../test/support/redis.ts';
import { withRateLimit } from '../src/http/middleware-node.ts';
import { RateLimiter } from '../src/limiter.ts';
import { MemoryStore } from '../src/memory-store.ts';
import { RedisStore } from '../src/redis-store.ts';
import type { LimiterStore } from '../src/store.ts';
import { close, fetchRaw, listen } from './http-support.ts';

let redis: RedisHandle;
let redisClient: Redis;
let cluster: RedisClusterHandle;
let clusterClient: Cluster;

beforeAll(async () => {
  redis = await startRedis();
  redisClient = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  cluster = await startRedisCluster(3);
  clusterClient = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
}, 60_000);

afterAll(async () => {
  redisClient?.disconnect();
  clusterClient?.disconnect();
  await redis?.stop();
  await cluster?.stop();
});

const stores: Array<[string, () => LimiterStore]> = [
  ['MemoryStore', () => new MemoryStore()],
  ['RedisStore', () => new RedisStore({ client: redisClient })],
  ['RedisStore on a Cluster', () => new RedisStore({ client: clusterClient })],
];

/**
 * The README's tiers per hour rather than per minute (a unit drains in 3 min, not 3 s, so a slow
 * run on a loaded machine decides the same); enforcement on (the default).
 */
function limiterOn(store: LimiterStore): RateLimiter {
  return new RateLimiter({
    store,
    tiers: { free: { requestsPerHour: 20 }, ip: { requestsPerHour: 600 } },
    defaultTier: 'free',
    secondaryTier: 'ip',
    failurePolicy: 'closed',
    commandTimeoutMs: 5_000,
    warmTokenizer: false,
  });
}

async function statuses(port: number, headers: Record<string, string>[]): Promise<number[]> {
  const out: number[] = [];
  for (const h of headers) out.push((await fetchRaw(port, { headers: h })).status);
  return out;
}

const count = (xs: number[], status: number): number => xs.filter((x) => x === status).length;

describe.each(stores)('an anonymous client and the users behind its address (%s)', (_name, makeStore) => {
  let server: Server | undefined;
  let limiter: RateLimiter;
  let port: number;

  beforeAll(async () => {
    // Subjects of earlier runs on the shared servers: the address is 127.0.0.1 every time.
    await redisClient.flushall();
    for (const node of clusterClient.nodes('master')) await node.flushall();
    limiter = limiterOn(makeStore());
    server = createServer(withRateLimit(limiter, (_req, res) => res.end('ok'), { trustUserIdHeader: true }));
    port = await listen(server);
  });

  afterAll(async () => {
    if (server) await close(server);
  });

  it('limits the anonymous client at its own tier and leaves the address budget to the users', async () => {
    const anonymous = await statuses(
      port,
      Array.from({ length: 40 }, () => ({})),
    );
    // Its own 20 an hour; the 20 refused ones raise its own violation score, not the address's.
    expect(count(anonymous, 200)).toBe(20);
    expect(count(anonymous, 429)).toBe(20);
    const users = await statuses(
      port,
      Array.from({ length: 100 }, (_, u) => ({ 'x-user-id': `user-${u}` })),
    );
    // Before: 0 of 100 (the anonymous requests had filled the address bucket at 3 min each).
    expect(count(users, 200)).toBe(100);
    // The address's budget counted all 120 admitted requests at its own price (6 s each; one
    // more unit back for each 6 s the run took).
    const address = await limiter.status('ip:127.0.0.1', 'ip');
    const left = address.dimensions.find((d) => d.dimension === 'rph')!.remaining;
    expect(left).toBeGreaterThanOrEqual(480);
    expect(left).toBeLessThan(500);
    expect(address.level).toBe('normal');
    const own = await limiter.status('ip:127.0.0.1#anonymous', 'free');
    expect(own.dimensions.find((d) => d.dimension === 'rph')?.remaining).toBe(0);
  });

  it('a ban of the address (llmsec limits ban ip:<bucket>) still stops its anonymous client', async () => {
    await limiter.reset('ip:127.0.0.1#anonymous'); // its own limit is spent: the ban must refuse
    await limiter.ban('ip:127.0.0.1');
    const after = await fetchRaw(port);
    expect(after.status).toBe(429);
    expect(JSON.parse(after.body).error.reason).toBe('banned');
    await limiter.lift('ip:127.0.0.1');
  });
});
