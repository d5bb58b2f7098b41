// `llmsec limits ... --redis redis://host:port/N`: a database Redis does not have (N past its
// `databases`, 16 by default) made ioredis's SELECT fail with an 'error' event only; the
// connection still came up, on database 0, so `ban` banned the subject in another keyspace
// than the one named and said `"banned": true`, exit 0. connectRedis now fails such a start.
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { cli, redisForTests } from './cli-run.ts';
import { connectRedis } from '../src/redis-client.ts';
import { rlKey } from '../src/keys.ts';

const redis = redisForTests();

describe('a Redis URL naming a database the server lacks', () => {
  it('fails connectRedis instead of working on database 0', async () => {
    await expect(connectRedis(`${redis.url}/99`)).rejects.toThrow(/DB index is out of range/);
  });

  it('makes llmsec limits ban fail, banning nobody', async () => {
    const r = await cli(['limits', 'ban', 'db-subject', '--redis', `${redis.url}/99`]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('DB index is out of range');
    expect(await redis.client.exists(rlKey('db-subject'))).toBe(0);
  });

  it('still works on a database the server has', async () => {
    const r = await cli(['limits', 'ban', 'db3-subject', '--redis', `${redis.url}/3`]);
    expect(r.code).toBe(0);
    const db3 = new Redis(`${redis.url}/3`);
    try {
      expect(await db3.exists(rlKey('db3-subject'))).toBe(1);
    } finally {
      db3.disconnect();
    }
  });
});
