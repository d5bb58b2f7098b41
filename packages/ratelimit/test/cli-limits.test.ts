import { describe, expect, it } from 'vitest';
import { cli, redisForTests } from './cli-run.ts';
import { getFreePort } from '../../../test/support/ports.ts';
import { RateLimiter } from '../src/limiter.ts';
import { RedisStore } from '../src/redis-store.ts';
import { leaseKey, rlKey } from '../src/keys.ts';

const redis = redisForTests();

describe('llmsec limits', () => {
  it('shows, lifts, bans and resets a subject in the shared Redis', async () => {
    const lim = new RateLimiter({
      store: new RedisStore({ client: redis.client }),
      tiers: { t: { requestsPerHour: 100, concurrent: 5 } },
      enforcement: { warningAt: 1, throttledAt: 2, blockedAt: 3, bannedAt: 50 },
      commandTimeoutMs: 5_000,
    });
    const subject = `cli-${Date.now()}`;
    await lim.acquire({ subject, estimatedTokens: 0 });
    await lim.recordViolation(subject, 20);

    const shown = await cli(['limits', 'show', subject, '--redis', redis.url]);
    expect(shown.err).toBe('');
    expect(shown.code).toBe(0);
    const state = JSON.parse(shown.out) as Record<string, unknown>;
    // Default thresholds (blockedAt 20): the CLI computes the level the default way.
    expect(state).toMatchObject({
      subject,
      level: 'blocked',
      activeLeases: 1,
      banned: false,
      violationScore: expect.closeTo(20, 1),
    });
    expect(
      (state.keys as Record<string, { exists: boolean; ttlMs: number }>)[rlKey(subject)]!.ttlMs,
    ).toBeGreaterThan(0);
    expect((state.busyMs as Record<string, number>).rph).toBeGreaterThan(0);

    expect(JSON.parse((await cli(['limits', 'lift', subject, '--redis', redis.url])).out)).toMatchObject({
      lifted: true,
    });
    expect((await lim.status(subject)).level).toBe('normal');
    expect((await cli(['limits', 'ban', subject, '--redis', redis.url])).code).toBe(0);
    expect(await lim.acquire({ subject, estimatedTokens: 0 })).toMatchObject({
      allowed: false,
      reason: 'banned',
    });
    expect((await cli(['limits', 'reset', subject, '--redis', redis.url])).code).toBe(0);
    expect(await redis.client.exists(rlKey(subject))).toBe(0);
    expect((await lim.acquire({ subject, estimatedTokens: 0 })).allowed).toBe(true);
  });

  it('names a damaged key and what is wrong with it (not a Lua error), and reset still clears it', async () => {
    const subject = `damaged-${Date.now()}`;
    const args = (action: string) => ['limits', action, subject, '--redis', redis.url];
    // lift and ban read and write the state only: a damaged lease key stops show alone.
    for (const [damage, want, actions] of [
      [
        () => redis.client.set(rlKey(subject), 'garbage'),
        `key ${rlKey(subject)} holds 7 bytes, where the limiter keeps at least 104`,
        ['show', 'lift', 'ban'],
      ],
      [
        () => redis.client.hset(rlKey(subject), 'v', 'x'),
        `key ${rlKey(subject)} is a hash, where the limiter keeps a string`,
        ['show', 'lift', 'ban'],
      ],
      [
        () => redis.client.set(leaseKey(subject), 'x'),
        `key ${leaseKey(subject)} is a string, where the limiter keeps a sorted set`,
        ['show'],
      ],
    ] as const) {
      await damage();
      for (const action of actions) {
        const r = await cli(args(action));
        expect(r.code).toBe(1);
        expect(r.err).toContain(`llmsec limits: ${action} ${subject}: damaged: ${want}`);
        expect(r.err).toContain(`\`llmsec limits reset ${subject}\``);
        expect(r.err).not.toMatch(/script|user_script|WRONGTYPE/);
      }
      expect((await cli(args('reset'))).code).toBe(0);
      expect(await redis.client.exists(rlKey(subject), leaseKey(subject))).toBe(0);
      const shown = await cli(args('show'));
      expect(shown.code).toBe(0);
      expect(JSON.parse(shown.out)).toMatchObject({ subject, level: 'normal', banned: false });
    }
  });

  it('fails with a clear message and exit 1 when Redis is unreachable; 2 on bad usage', async () => {
    const port = await getFreePort();
    const r = await cli(['limits', 'show', 'alice', '--redis', `redis://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`cannot connect to Redis at redis://127.0.0.1:${port}: .*ECONNREFUSED`));
    // --cluster against a standalone server: it is reachable; what is wrong is that it is no
    // Cluster (ioredis says only "Failed to refresh slots cache").
    const c = await cli(['limits', 'show', 'alice', '--redis', redis.url, '--cluster']);
    expect(c.code).toBe(1);
    expect(c.err).toContain(
      `llmsec limits: cannot connect to Redis at ${redis.url}: not a Redis Cluster: the server is a standalone Redis`,
    );
    expect(c.err).toContain('leave out --cluster');
    expect(c.err).not.toContain('slots cache');
    // Unreachable with --cluster: no such claim, the connection error as before.
    const u = await cli(['limits', 'show', 'alice', '--redis', `redis://127.0.0.1:${port}`, '--cluster']);
    expect(u.code).toBe(1);
    expect(u.err).not.toContain('standalone');
    expect((await cli(['limits', 'show'])).code).toBe(2);
    expect((await cli(['limits', 'frobnicate', 'alice', '--redis', redis.url])).code).toBe(2);
  });
});
