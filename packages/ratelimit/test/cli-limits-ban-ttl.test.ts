// `llmsec limits --help` said "ban the subject until lifted", but a ban lasts the limiter's
// banTtlMs (one year by default, the CLI's limiter): its key expires then and the subject is
// let through again. The help now gives the lifetime; this checks it against the key's TTL.
import { describe, expect, it } from 'vitest';
import { cli, redisForTests } from './cli-run.ts';
import { rlKey } from '../src/keys.ts';

const redis = redisForTests();

describe('llmsec limits ban', () => {
  it('lasts as long as the help says', async () => {
    const help = await cli(['limits', '--help']);
    const line = help.out.split('\n').find((l) => /^\s+ban\s/.test(l));
    const days = /for (\d+) days/.exec(line ?? '');
    expect(days, `help's ban line: ${line}`).not.toBeNull();

    const subject = `ban-ttl-${Date.now()}`;
    expect((await cli(['limits', 'ban', subject, '--redis', redis.url])).code).toBe(0);
    const ttlDays = (await redis.client.pttl(rlKey(subject))) / 86_400_000;
    expect(Math.abs(ttlDays - Number(days![1]))).toBeLessThan(1);
  });
});
