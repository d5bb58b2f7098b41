import { afterEach } from 'vitest';
import { Redis, type RedisOptions } from 'ioredis';
import { startRedis, type RedisHandle } from './redis.ts';

/**
 * For tests that kill a redis-server and start it again on its port: the server last started
 * and every client opened through `client` are closed after each test. Clients fail fast
 * (no offline queue, one retry) and reconnect every 50 ms, as the READMEs advise.
 */
export function useOutageRedis(): {
  start(options?: { port?: number }): Promise<RedisHandle>;
  client(url: string, options?: RedisOptions): Redis;
} {
  let server: RedisHandle | undefined;
  const clients: Redis[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await server?.stop();
    server = undefined;
  });
  return {
    async start(options = {}) {
      server = await startRedis(options);
      return server;
    },
    client(url, options = {}) {
      const c = new Redis(url, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        retryStrategy: () => 50,
        ...options,
      });
      c.on('error', () => {}); // every failed reconnect while the server is down
      clients.push(c);
      return c;
    },
  };
}
