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
  let notRedis: Error | undefined;
  client.on('error', (err: Error) => {
    lastError = err;
    notRedis ??= notRedisError(err);
  });
  const silent = answerWithin(client, connectTimeout);
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    if (silent.expired) throw silentServer(connectTimeout);
    // ioredis says only "Failed to refresh slots cache" when the seed is a reachable Redis
    // that is no Cluster node, or a server that never answers: ask it directly, so the
    // operator reads what is wrong, not "cannot reach".
    if (options.cluster && notRedis === undefined) {
      const seed = await probeSeed(url, connectTimeout);
      if (seed === 'standalone') {
        throw new Error(
          `not a Redis Cluster: the server is a standalone Redis (INFO cluster: cluster_enabled:0); connect without cluster mode (llmsec: leave out --cluster)`,
        );
      }
      if (seed === 'silent') throw silentServer(connectTimeout);
      if (seed instanceof Error) throw seed;
    }
    throw notRedis ?? lastError ?? err;
  } finally {
    silent.clear();
  }
  // A SELECT that failed (redis://host/99 on a server of 16 databases) is only an 'error'
  // event: ioredis still connects, on database 0, and an operator's ban lands in another
  // keyspace than the one named.
  if (lastError !== undefined) {
    client.disconnect();
    throw notRedis ?? lastError;
  }
  return client;
}

/**
 * ioredis's parser meets a reply that is not RESP (an HTTP server's "HTTP/1.1 400 ...", a
 * TLS port's handshake) as 'Protocol error, got "H" as reply type byte. Please report this.',
 * and connect() then says only that the stream is not writeable. What the operator needs to
 * read is that the address does not speak Redis.
 */
function notRedisError(err: Error): Error | undefined {
  const m = /^Protocol error, got (".{1,8}") as reply type byte/s.exec(err.message);
  if (m === null) return undefined;
  return new Error(
    `the server does not speak Redis: its first reply began with ${m[1]}, where a Redis reply ` +
      `begins with +, -, :, $ or * (an HTTP server answers "HTTP/1.1 ..."); check the host and port`,
  );
}

function silentServer(ms: number): Error {
  return new Error(
    `no Redis reply within ${ms} ms: the server accepted the connection but did not answer; check the host and port`,
  );
}

/**
 * What the seed of a cluster connection that failed is, asked as a plain Redis:
 * `standalone` (it answers, cluster support disabled), `silent` (it accepts the connection
 * but does not answer within `connectTimeout`), the error saying it does not speak Redis, or
 * `other` (it cannot say: unreachable, a Cluster node whose failure is elsewhere).
 */
async function probeSeed(
  url: string,
  connectTimeout: number,
): Promise<'standalone' | 'silent' | 'other' | Error> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let notRedis: Error | undefined;
  probe.on('error', (err: Error) => {
    notRedis ??= notRedisError(err);
  });
  const silent = answerWithin(probe, connectTimeout);
  try {
    await probe.connect();
    return /^cluster_enabled:0\r?$/m.test(await probe.info('cluster')) ? 'standalone' : 'other';
  } catch {
    return silent.expired ? 'silent' : (notRedis ?? 'other');
  } finally {
    silent.clear();
    probe.disconnect();
  }
}

/**
 * ioredis's connectTimeout ends at the TCP connect: a server that accepts the connection and
 * never answers the ready check (a port that is not Redis, a hung process) held connect() for
 * ever. From the TCP connect on, the server gets `ms` to answer, else the client is closed
 * (connect() then rejects) and `expired` says why.
 */
function answerWithin(client: Redis | Cluster, ms: number): { readonly expired: boolean; clear(): void } {
  let timer: NodeJS.Timeout | undefined;
  const state = {
    expired: false,
    clear: () => clearTimeout(timer),
  };
  client.once('connect', () => {
    timer = setTimeout(() => {
      state.expired = true;
      client.disconnect();
    }, ms);
    timer.unref();
  });
  return state;
}
