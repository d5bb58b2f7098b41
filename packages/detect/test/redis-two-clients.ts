import { Cluster, type Redis } from 'ioredis';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startRedisCluster, type RedisClusterHandle } from '../../../test/support/redis.ts';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { freshRuleset } from './redis-support.ts';

/** Two clients (two "processes") on one Redis: standalone, or two connections to one Cluster. */
export type TwoClients = [Redis | Cluster, Redis | Cluster];

/**
 * Runs one fleet scenario twice: on a standalone redis-server and on a 3-master Cluster (keys
 * of one scenario then live in different slots, which is what such tests are about), each with
 * a fresh ruleset.
 */
export function standaloneAndCluster(
  title: string,
  tag: string,
  scenario: (clients: TwoClients, ruleset: string) => Promise<void>,
): void {
  describe(title, () => {
    const db = useRedis({ clients: 2 });
    it('standalone', async () => {
      await scenario([db.clients[0]!, db.clients[1]!], freshRuleset(tag));
    });
  });

  describe(`${title}, on a Cluster`, () => {
    let cluster: RedisClusterHandle;
    beforeAll(async () => {
      cluster = await startRedisCluster(3);
    }, 60_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it('3 masters', async () => {
      const clients = [0, 1].map(
        () => new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } }),
      ) as [Cluster, Cluster];
      try {
        await scenario(clients, freshRuleset(`${tag}-cluster`));
      } finally {
        for (const c of clients) c.disconnect();
      }
    }, 60_000);
  });
}
