import { Cluster, Redis } from 'ioredis';

export interface ConnectRedisOptions {
  /** `url` names a seed node of a Redis Cluster. @default false */
  cluster?: boolean;
  /** @default 2_000 */
  connectTimeoutMs?: number;
}

/**
 * A fail-fast ioredis client for operator tools: one connection attempt, no reconnect loop, no
 * offline queue, so an unreachable Redis rejects at once with the connection error instead of
 * queueing commands; so does a URL naming a database the server lacks (`/99`). Services should build their own client (see README) and keep reconnecting.
 */
export async function connectRedis(url: string, options: ConnectRedisOptions = {}): Promise<Redis | Cluster> {
  const connectTimeout = options.connectTimeoutMs ?? 2_000;
  let client: Redis | Cluster;
  if (options.cluster) {
    const u = new URL(url);
    client = new Cluster([{ host: u.hostname, port: Number(u.port || 6379) }], {
      lazyConnect: true,
      enableOfflineQueue: false,
      clusterRetryStrategy: () => null,
      redisOptions: {
        connectTimeout,
        maxRetriesPerRequest: 0,
        ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
      },
    });
  } else {
    client = new Redis(url, {
      lazyConnect: true,
      connectTimeout,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
  }
  // Connection errors arrive as 'error' events; connect() itself only says the connection closed.
  let lastError: Error | undefined;
  client.on('error', (err: Error) => {
    lastError = err;
  });
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    // ioredis says only "Failed to refresh slots cache" when the seed is a reachable Redis
    // that is no Cluster node: ask it, so the operator reads what is wrong, not "cannot reach".
    if (options.cluster && (await isStandalone(url, connectTimeout))) {
      throw new Error(
        `not a Redis Cluster: the server is a standalone Redis (INFO cluster: cluster_enabled:0); connect without cluster mode (llmsec: leave out --cluster)`,
      );
    }
    throw lastError ?? err;
  }
  // A SELECT that failed (redis://host/99 on a server of 16 databases) is only an 'error'
  // event: ioredis still connects, on database 0, and an operator's ban lands in another
  // keyspace than the one named.
  if (lastError !== undefined) {
    client.disconnect();
    throw lastError;
  }
  return client;
}

/** Whether `url` answers as a Redis with cluster support disabled (false if it cannot say). */
async function isStandalone(url: string, connectTimeout: number): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return /^cluster_enabled:0\r?$/m.test(await probe.info('cluster'));
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}
