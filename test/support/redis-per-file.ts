import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startRedis, type RedisHandle } from './redis.ts';

export interface RedisForTests {
  readonly server: RedisHandle;
  /** The first client. */
  readonly redis: Redis;
  /** All of them (separate connections, as separate processes would have). */
  readonly clients: readonly Redis[];
}

/**
 * One redis-server and its client(s) for the tests of the enclosing file or describe block:
 * started in beforeAll, stopped in afterAll (the set-up every shared-state test file had its
 * own copy of). The fields are set once beforeAll has run, so read them inside tests.
 */
export function useRedis(options: { clients?: number } = {}): RedisForTests {
  let server: RedisHandle | undefined;
  const clients: Redis[] = [];
  beforeAll(async () => {
    server = await startRedis();
    for (let i = 0; i < (options.clients ?? 1); i++) {
      clients.push(new Redis(server.url, { maxRetriesPerRequest: 1 }));
    }
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useRedis: read the server or client inside a test');
    return value;
  };
  return {
    get server() {
      return started(server);
    },
    get redis() {
      return started(clients[0]);
    },
    get clients() {
      started(server);
      return clients;
    },
  };
}
