// `llmsec limits ... --redis URL`: the connection error printed the URL whole, a password in it
// included ('cannot connect to Redis at redis://:s3cret@host/99: ERR DB index is out of
// range'), into a terminal or CI log; the detector masks it (state.ts). And a URL of another
// scheme (http://host:6379, a slip) was taken as a socket path: exit 1, 'connect ENOENT
// //host:6379'; it is a usage mistake, exit 2. A bare host or host:port (ioredis's shorthand)
// is still taken.
import { describe, expect, it } from 'vitest';
import { cli, redisForTests } from './cli-run.ts';

const redis = redisForTests();

describe('llmsec limits --redis', () => {
  it('masks the password of the URL in its connection error', async () => {
    const url = `${redis.url.replace('redis://', 'redis://:s3cret@')}/99`;
    const r = await cli(['limits', 'show', 'someone', '--redis', url]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      `cannot connect to Redis at ${redis.url.replace('redis://', 'redis://:***@')}/99: ERR DB index is out of range`,
    );
    expect(r.err).not.toContain('s3cret');
  });

  it('refuses a URL of another scheme as a usage error, and takes host:port', async () => {
    const r = await cli(['limits', 'show', 'someone', '--redis', redis.url.replace('redis://', 'http://')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--redis: want a redis:// or rediss:// URL (or HOST:PORT)');
    const bare = await cli(['limits', 'show', 'someone', '--redis', redis.url.replace('redis://', '')]);
    expect(bare.code, bare.err).toBe(0);
  });
});
