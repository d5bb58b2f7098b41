import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startRedis, type RedisHandle } from './redis.ts';

export interface RedisForTests {
  readonly server: RedisHandle;
  readonly redis: Redis;
}

/**
 * One redis-server and one client for the tests of the enclosing file or describe block:
 * started in beforeAll, stopped in afterAll (the set-up every shared-state test file had its
 * own copy of). The fields are set once beforeAll has run, so read them inside tests.
 */
export function useRedis(): RedisForTests {
  let server: RedisHandle | undefined;
  let redis: Redis | undefined;
  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    redis?.disconnect();
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
      return started(redis);
    },
  };
}
