import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, expect } from 'vitest';
import { startRedisCluster, type RedisClusterHandle } from '../../../test/support/redis.ts';
import { refuseWrites } from '../../../test/support/redis-oom.ts';

export interface OomCluster {
  /** The cluster client (read inside tests). */
  readonly client: Cluster;
  readonly nodes: RedisClusterHandle['nodes'];
  /** The port of the master owning `key`'s slot (CLUSTER KEYSLOT, then the client's slot table). */
  ownerPort(key: string): Promise<number>;
  /**
   * Makes the master on `port` refuse every write (out of memory under noeviction), checked
   * through the cluster client; returns the undo.
   */
  refuseWritesOn(port: number): Promise<() => Promise<unknown>>;
}

/**
 * A real 3-master Redis Cluster and its client for the tests of the enclosing file, started in
 * beforeAll and stopped in afterAll, for the tests that make one master run out of memory.
 */
export function useOomCluster(): OomCluster {
  let cluster: RedisClusterHandle | undefined;
  let client: Cluster | undefined;
  const direct: Redis[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    client = new Cluster(cluster.nodes, {
      redisOptions: { maxRetriesPerRequest: 1 },
      enableOfflineQueue: false,
    });
    client.on('error', () => {});
    await new Promise<void>((resolve) => client!.once('ready', () => resolve()));
  }, 60_000);

  afterAll(async () => {
    for (const r of direct) r.disconnect();
    client?.disconnect();
    await cluster?.stop();
  });

  const started = (): { cluster: RedisClusterHandle; client: Cluster } => {
    if (cluster === undefined || client === undefined)
      throw new Error('useOomCluster: read the cluster inside a test');
    return { cluster, client };
  };
  const ownerPort = async (key: string): Promise<number> => {
    const { client } = started();
    const slot = Number(await client.cluster('KEYSLOT', key));
    return Number(client.slots[slot]![0]!.split(':')[1]);
  };
  return {
    get client() {
      return started().client;
    },
    get nodes() {
      return started().cluster.nodes;
    },
    ownerPort,
    refuseWritesOn: async (port) => {
      const node = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
      direct.push(node);
      await node.connect();
      const takeWrites = await refuseWrites(node);
      // A write in this master's slots, through the cluster client, is refused.
      const candidates = Array.from({ length: 300 }, (_, i) => `refused:{${i}}`);
      const owners = await Promise.all(candidates.map(ownerPort));
      const mine = candidates.find((_, i) => owners[i] === port)!;
      await expect(started().client.set(mine, 'x')).rejects.toThrow(/OOM/);
      return takeWrites;
    },
  };
}
