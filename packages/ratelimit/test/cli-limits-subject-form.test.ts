import { describe, expect, it } from 'vitest';
import { cli, redisForTests } from './cli-run.ts';
import { userSubject } from '../src/http/subject.ts';
import { RateLimiter } from '../src/limiter.ts';
import { RedisStore } from '../src/redis-store.ts';

/**
 * `llmsec limits` names the bucket every entry point names: the SDK, the middleware, the alert
 * hook and the detector take a subject trimmed and cut at 256 characters (userSubject,
 * sanitizeSubject), so a bucket with surrounding whitespace or a longer name never exists.
 * Before, the CLI took SUBJECT as typed: `ban 'alice '` (a pasted id) or a 300-character id from
 * the application's own records banned a key no limiter reads, and printed `banned: true`.
 */

const redis = redisForTests();

function limiter(): RateLimiter {
  return new RateLimiter({
    store: new RedisStore({ client: redis.client }),
    tiers: { t: { requestsPerHour: 100 } },
    commandTimeoutMs: 5_000,
  });
}

describe('llmsec limits: SUBJECT as the limiter names it', () => {
  it('a subject with surrounding whitespace bans the trimmed bucket', async () => {
    const id = `pasted-${Date.now()}`;
    const ban = await cli(['limits', 'ban', ` ${id}\n`, '--redis', redis.url]);
    expect(ban.code).toBe(0);
    expect(JSON.parse(ban.out)).toMatchObject({ subject: id, banned: true });
    expect(await limiter().acquire({ subject: userSubject(id)!, estimatedTokens: 0 })).toMatchObject({
      allowed: false,
      reason: 'banned',
    });
  });

  it('a user id past 256 characters bans the bucket of its first 256, as the SDK and alerts name it', async () => {
    const id = `long-${Date.now()}-`.padEnd(300, 'x');
    const ban = await cli(['limits', 'ban', id, '--redis', redis.url]);
    expect(ban.code).toBe(0);
    const subject = userSubject(id)!;
    expect(subject).toHaveLength(256);
    expect(JSON.parse(ban.out)).toMatchObject({ subject, banned: true });
    expect(await limiter().acquire({ subject, estimatedTokens: 0 })).toMatchObject({
      allowed: false,
      reason: 'banned',
    });
    const shown = JSON.parse((await cli(['limits', 'show', id, '--redis', redis.url])).out) as {
      subject: string;
      banned: boolean;
    };
    expect(shown).toMatchObject({ subject, banned: true });
  });

  it('a blank subject is a usage error, not the bucket of the empty name', async () => {
    const r = await cli(['limits', 'ban', '  ', '--redis', redis.url]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('SUBJECT');
  });
});
