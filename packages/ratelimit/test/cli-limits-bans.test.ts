// `llmsec limits bans`: the fleet's active bans from the ban index (llmsec:bans), through the
// CLI on a real redis-server (and a three-master Cluster): bans set by `limits ban` and by
// RateLimiter.ban(), a long subject as its digest, an ended ban and a lifted one not listed,
// the JSON shape, the --limit cap and how many more, usage and connection errors.
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, type Redis } from 'ioredis';
import { cli, redisForTests } from './cli-run.ts';
import { startRedisCluster } from '../../../test/support/redis.ts';
import { until } from '../../../test/support/until.ts';
import { subjectTag } from '../src/keys.ts';
import { BAN_INDEX_KEY } from '../src/redis-ban-index.ts';
import { RateLimiter } from '../src/limiter.ts';
import { RedisStore } from '../src/redis-store.ts';

const redis = redisForTests();
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

function limiterOn(client: Redis | Cluster, banTtlMs?: number): RateLimiter {
  return new RateLimiter({
    store: new RedisStore({ client }),
    tiers: { t: { requestsPerHour: 1_000 } },
    failurePolicy: 'closed',
    commandTimeoutMs: 5_000,
    warmTokenizer: false,
    ...(banTtlMs !== undefined ? { enforcement: { banTtlMs } } : {}),
  });
}

async function redisMs(client: Redis | Cluster): Promise<number> {
  const [s, us] = await client.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/**
 * Until Redis's clock has passed the ms it reads now: a ban set after this ends strictly later
 * than one set before (equal ends would be listed in reverse member order).
 */
async function nextMs(client: Redis | Cluster): Promise<void> {
  const t0 = await redisMs(client);
  await until(async () => (await redisMs(client)) > t0, 5_000, 1);
}

interface Listed {
  at: string;
  total: number;
  shown: number;
  more: number;
  bans: { subject?: string; digest?: string; until: string; remainingMs: number }[];
}

async function listed(args: string[]): Promise<Listed> {
  const r = await cli(['limits', 'bans', '--json', ...args]);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as Listed;
}

describe('llmsec limits bans', () => {
  it('lists bans from limits ban and RateLimiter.ban(), a long subject by digest; not an ended or lifted one', async () => {
    const url = ['--redis', redis.url];
    await redis.client.del(BAN_INDEX_KEY);
    expect((await cli(['limits', 'bans', ...url])).out).toBe('no active bans\n');

    const lim = limiterOn(redis.client);
    const long = 'L'.repeat(200);
    expect((await cli(['limits', 'ban', 'mallory', ...url])).code).toBe(0);
    await nextMs(redis.client);
    await lim.ban(long);
    await nextMs(redis.client);
    await lim.ban('ip:198.51.100.9');
    expect((await cli(['limits', 'ban', 'walt', ...url])).code).toBe(0);
    expect((await cli(['limits', 'lift', 'walt', ...url])).code).toBe(0);
    // Set last, ending first: a 200 ms ban, still stored in the index once it has ended (no
    // writer since to drop it), but not active.
    await limiterOn(redis.client, 200).ban('eve');
    const eveEnd = Number(await redis.client.zscore(BAN_INDEX_KEY, 'eve'));
    await until(async () => (await redisMs(redis.client)) > eveEnd, 10_000);
    expect(await redis.client.zscore(BAN_INDEX_KEY, 'eve')).not.toBeNull();

    const out = await listed(url);
    const names = out.bans.map((b) => b.subject ?? b.digest);
    // Ending last first: the order they were set in, reversed (each lasts 365 days).
    expect(names).toEqual(['ip:198.51.100.9', subjectTag(long), 'mallory']);
    expect(out.bans[1]).toEqual({
      digest: subjectTag(long),
      until: expect.any(String),
      remainingMs: expect.any(Number),
    });
    expect(out).toMatchObject({ total: 3, shown: 3, more: 0 });
    const at = Date.parse(out.at);
    for (const b of out.bans) {
      expect(Object.keys(b)).toHaveLength(3);
      expect(b.remainingMs).toBe(Date.parse(b.until) - at);
      expect(b.remainingMs).toBeGreaterThan(364 * 86_400_000);
      expect(b.remainingMs).toBeLessThanOrEqual(365 * 86_400_000);
    }

    // The table: the same bans, a digest marked as one.
    const table = await cli(['limits', 'bans', ...url]);
    expect(table.code).toBe(0);
    const lines = table.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^UNTIL +REMAINING +SUBJECT$/);
    expect(lines[1]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z {2}36\dd \d+h \d+m +ip:198\.51\.100\.9$/);
    expect(lines[2]).toMatch(new RegExp(` ${subjectTag(long)} \\(digest\\)$`));
    expect(lines[3]).toMatch(/ mallory$/);
    expect(lines[4]).toBe('3 active bans');

    // A digest is not a subject: `limits lift sha256:<hex>` digests it again and lifts nothing
    // (the README says so: lift by the subject).
    const byDigest = await cli(['limits', 'lift', subjectTag(long), ...url]);
    expect(JSON.parse(byDigest.out)).toMatchObject({ lifted: true, previousLevel: 'normal' });
    expect((await listed(url)).total).toBe(3);
    expect((await cli(['limits', 'lift', long, ...url])).code).toBe(0);
    expect((await listed(url)).bans.map((b) => b.subject)).toEqual(['ip:198.51.100.9', 'mallory']);
  });

  it('caps the list at --limit and says how many more; a table escapes control characters', async () => {
    const url = ['--redis', redis.url];
    await redis.client.del(BAN_INDEX_KEY);
    const lim = limiterOn(redis.client);
    for (const s of ['a-1', 'a-2', 'a-3', 'a-4', 'a\u202eb\n']) {
      await nextMs(redis.client);
      await lim.ban(s);
    }
    const out = await listed([...url, '--limit', '2']);
    expect(out).toMatchObject({ total: 5, shown: 2, more: 3 });
    expect(out.bans.map((b) => b.subject)).toEqual(['a\u202eb\n', 'a-4']);
    const table = await cli(['limits', 'bans', ...url, '--limit=2']);
    const lines = table.out.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/ a\\u\{202e\}b\\u\{a\}$/);
    expect(lines[3]).toBe('2 of 5 active bans shown; 3 more (--limit N, up to 10000)');
    // The default limit lists all five.
    expect((await listed(url)).shown).toBe(5);
  });

  it('exit 1 naming the failure when the index key is not a sorted set', async () => {
    await redis.client.set(BAN_INDEX_KEY, 'x');
    cleanup.push(() => redis.client.del(BAN_INDEX_KEY).then(() => undefined));
    const r = await cli(['limits', 'bans', '--redis', redis.url]);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^llmsec limits: WRONGTYPE/);
  });

  it('usage errors exit 2 before Redis is asked; an unreachable Redis exits 1', async () => {
    const none = ['--redis', 'redis://127.0.0.1:1'];
    for (const [argv, want] of [
      [['bans', 'mallory'], /^llmsec limits: bans takes no SUBJECT\n/],
      [['bans', '--limit', '0'], /^llmsec limits: --limit: want a whole number from 1 to 10000, not "0"\n$/],
      [['bans', '--limit', '10001'], /--limit: want a whole number from 1 to 10000/],
      [['bans', '--limit=1e3'], /--limit: want a whole number from 1 to 10000/],
      [['bans', '--limit'], /^llmsec limits: --limit needs a number\n/],
      [['show', 'mallory', '--json'], /--json and --limit are options of `limits bans`/],
      [['ban', 'mallory', '--limit', '3'], /--json and --limit are options of `limits bans`/],
    ] as const) {
      const r = await cli(['limits', ...none, ...argv]); // --limit last: nothing after it
      expect(r.err).toMatch(want);
      expect(r.code).toBe(2);
    }
    const down = await cli(['limits', 'bans', ...none]);
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/^llmsec limits: cannot connect to Redis at redis:\/\/127\.0\.0\.1:1/);
  });

  it('cluster: lists the bans set on a three-master Redis Cluster (--cluster)', async () => {
    const cluster = await startRedisCluster(3);
    cleanup.push(() => cluster.stop());
    const client = new Cluster(cluster.nodes);
    cleanup.unshift(() => client.disconnect());
    const url = ['--redis', `redis://${cluster.nodes[0]!.host}:${cluster.nodes[0]!.port}`, '--cluster'];
    expect((await cli(['limits', 'ban', 'mallory', ...url])).code).toBe(0);
    await nextMs(client);
    await limiterOn(client).ban('ip:198.51.100.9');
    await limiterOn(client).ban('walt');
    expect((await cli(['limits', 'lift', 'walt', ...url])).code).toBe(0);
    const out = await listed(url);
    expect(out.bans.map((b) => b.subject)).toEqual(['ip:198.51.100.9', 'mallory']);
    expect(out).toMatchObject({ total: 2, shown: 2, more: 0 });
  });
});
