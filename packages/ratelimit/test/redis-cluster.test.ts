import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PassThrough, Readable } from 'node:stream';
import { Cluster } from 'ioredis';
import { runCli } from '../../cli/src/cli.ts';
import { startRedisCluster, type RedisClusterHandle } from '../../../test/support/redis.ts';
import { rlKey } from '../src/keys.ts';
import { RateLimiter } from '../src/limiter.ts';
import { coalescerOf, RedisStore } from '../src/redis-store.ts';
import { storeConformance } from './conformance.ts';

let cluster: RedisClusterHandle;
let client: Cluster;
let store: RedisStore;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  store = new RedisStore({ client });
});

afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});

storeConformance('cluster', () => store);

describe('RedisStore on a three-master Redis Cluster', () => {
  it('runs in cluster mode and spreads subjects over all three masters', async () => {
    expect(store.cluster).toBe(true);
    // One EVALSHA per call: a batched script could only hold keys of one slot.
    expect(coalescerOf(store).enabled).toBe(false);
    const lim = new RateLimiter({
      store,
      tiers: { t: { requestsPerHour: 10 } },
      failurePolicy: 'closed',
      commandTimeoutMs: 5_000,
    });
    const subjects = Array.from({ length: 30 }, (_, i) => `spread-${Date.now()}-${i}`);
    for (const s of subjects)
      expect((await lim.acquire({ subject: s, estimatedTokens: 0 })).allowed).toBe(true);
    const perNode = await Promise.all(client.nodes('master').map((n) => n.keys('llmsec:{spread-*')));
    expect(perNode).toHaveLength(3);
    expect(perNode.every((keys) => keys.length > 0)).toBe(true);
    expect(perNode.flat().sort()).toEqual(subjects.map(rlKey).sort());
  });

  it('rolls the secondary reservation back when the primary refuses (two-phase)', async () => {
    const lim = new RateLimiter({
      store,
      tiers: {
        user: { requestsPerHour: 1, tokensPerHour: 1_000 },
        ip: { requestsPerHour: 50, tokensPerHour: 10_000 },
      },
      defaultTier: 'user',
      secondaryTier: 'ip',
      failurePolicy: 'closed',
      commandTimeoutMs: 5_000,
      enforcement: false,
    });
    const ip = `ip:two-phase-${Date.now()}`;
    const user = `u-two-phase-${Date.now()}`;
    expect((await lim.acquire({ subject: user, secondarySubject: ip, estimatedTokens: 100 })).allowed).toBe(
      true,
    );
    for (let i = 0; i < 5; i++) {
      expect((await lim.acquire({ subject: user, secondarySubject: ip, estimatedTokens: 100 })).reason).toBe(
        'rph',
      );
    }
    const st = await lim.status(ip, 'ip');
    expect(st.dimensions.find((d) => d.dimension === 'rph')!.current).toBe(1);
    expect(st.dimensions.find((d) => d.dimension === 'tph')!.current).toBe(100);
  });

  it('llmsec limits show/ban/lift work against the cluster (--cluster)', async () => {
    const lim = new RateLimiter({ store, tiers: { t: { requestsPerHour: 10 } }, commandTimeoutMs: 5_000 });
    const subject = `cli-cluster-${Date.now()}`;
    await lim.acquire({ subject, estimatedTokens: 0 });
    const url = `redis://${cluster.nodes[0]!.host}:${cluster.nodes[0]!.port}`;
    const run = async (args: string[]) => {
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (d: Buffer) => (out += d.toString()));
      const code = await runCli(['limits', ...args, subject, '--redis', url, '--cluster'], {
        stdin: Readable.from([]),
        stdout,
        stderr: new PassThrough(),
      });
      return { code, out };
    };
    const shown = await run(['show']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.out)).toMatchObject({
      subject,
      level: 'normal',
      busyMs: { rph: expect.any(Number) },
    });
    expect((await run(['ban'])).code).toBe(0);
    expect(await lim.acquire({ subject, estimatedTokens: 0 })).toMatchObject({
      allowed: false,
      reason: 'banned',
    });
    expect((await run(['lift'])).code).toBe(0);
    expect((await lim.acquire({ subject, estimatedTokens: 0 })).allowed).toBe(true);
  });
});

describe("the state key's kept TTL on the cluster (redis-lua-expiry.ts)", () => {
  /**
   * The key's absolute expiry (PEXPIRETIME, ms; -1 none) and state, read on the node holding
   * the key. Not PTTL + TIME: each reads the clock when it runs, so a node descheduled between
   * them moves the sum by the pause (redis-state-expiry-release.test.ts), and PTTL is 0 for a
   * key whose TTL ends within the millisecond.
   */
  async function read(key: string): Promise<{ expireAt: number; state: Buffer | null }> {
    const r = (await client.multi().call('PEXPIRETIME', key).getBuffer(key).exec())!;
    return { expireAt: r[0]![1] as number, state: r[1]![1] as Buffer | null };
  }

  it('two-phase acquires, rollbacks and settles leave every key outliving its buckets', async () => {
    // The primary refuses often (rollback: the secondary refunded by a settle of minus the
    // reservation); settles charge above and below the estimate.
    const lim = new RateLimiter({
      store,
      tiers: {
        user: { requestsPerMinute: 30, tokensPerMinute: 200_000 },
        ip: { requestsPerMinute: 600, tokensPerMinute: 2_000_000, tokensPerHour: 20_000_000 },
      },
      defaultTier: 'user',
      secondaryTier: 'ip',
      failurePolicy: 'closed',
      commandTimeoutMs: 5_000,
      enforcement: false,
    });
    const tag = Date.now();
    const users = Array.from({ length: 6 }, (_, i) => `ttl-u${i}-${tag}`);
    const ips = Array.from({ length: 3 }, (_, i) => `ip:ttl-${i}-${tag}`);
    let seed = 7;
    const rnd = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    let refused = 0;
    let settled = 0;
    for (let step = 0; step < 120; step++) {
      const subject = users[Math.floor(rnd() * users.length)]!;
      const secondarySubject = ips[Math.floor(rnd() * ips.length)]!;
      const r = await lim.acquire({
        subject,
        secondarySubject,
        estimatedTokens: 1 + Math.floor(rnd() * 20_000),
      });
      if (!r.allowed) refused++;
      else if (r.lease && rnd() < 0.7) {
        await lim.settle(r.lease, { tokens: Math.floor(rnd() * 40_000) });
        settled++;
      }
      for (const s of [subject, secondarySubject]) {
        const { expireAt, state } = await read(rlKey(s));
        if (!state) continue;
        const tats = Array.from({ length: 8 }, (_, i) => state.readDoubleLE(8 * i));
        expect(expireAt, `step ${step} ${s}: a TTL`).toBeGreaterThan(0);
        expect(expireAt, `step ${step} ${s}: the TTL ends before its buckets drain`).toBeGreaterThanOrEqual(
          Math.max(...tats) - 1,
        );
      }
    }
    expect(refused).toBeGreaterThan(10);
    expect(settled).toBeGreaterThan(10);
  });
});

describe('subjects with Redis hash-tag braces on the cluster', () => {
  // A subject beginning with '}' made an empty hash tag (`llmsec:{}x}:rl`): Redis then hashes
  // the whole key, the subject's two keys fall in different slots, and the script fails with
  // CROSSSLOT; the failure policy then takes every subject off the store for retryIntervalMs.
  // User ids reach the store unhashed (the middleware's x-user-id, the SDK's user id).
  it('a user id beginning with } is limited like any other and takes no one else off the store', async () => {
    const lim = new RateLimiter({
      store,
      tiers: { t: { requestsPerHour: 2, concurrent: 5 } },
      failurePolicy: 'closed',
      commandTimeoutMs: 5_000,
    });
    const hostile = `}x-${Date.now()}`;
    const seen = [];
    for (let i = 0; i < 3; i++)
      seen.push((await lim.acquire({ subject: hostile, estimatedTokens: 0 })).reason);
    expect(seen).toEqual([undefined, undefined, 'rph']);
    expect((await lim.acquire({ subject: `bystander-${Date.now()}`, estimatedTokens: 0 })).allowed).toBe(
      true,
    );
    expect((await lim.status(hostile)).dimensions.find((d) => d.dimension === 'rph')!.current).toBe(2);
  });

  it('every brace shape: acquire (with a secondary and leases), settle, violations, the CLI and bans name one bucket', async () => {
    const lim = new RateLimiter({
      store,
      tiers: { user: { requestsPerHour: 3, concurrent: 2 }, ip: { requestsPerHour: 50, concurrent: 5 } },
      defaultTier: 'user',
      secondaryTier: 'ip',
      failurePolicy: 'closed',
      commandTimeoutMs: 5_000,
    });
    const url = `redis://${cluster.nodes[0]!.host}:${cluster.nodes[0]!.port}`;
    const cli = async (args: string[]) => {
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (d: Buffer) => (out += d.toString()));
      const code = await runCli(['limits', ...args, '--redis', url, '--cluster'], {
        stdin: Readable.from([]),
        stdout,
        stderr: new PassThrough(),
      });
      return { code, out };
    };
    const n = Date.now();
    for (const subject of [`}${n}`, `}`, `}}${n}`, `{${n}`, `{}${n}`, `a}b{${n}`, `{${n}}`, `sha256:${n}`]) {
      const ip = `ip:}${n}`;
      const first = await lim.acquire({ subject, secondarySubject: ip, estimatedTokens: 0 });
      expect(first.allowed, subject).toBe(true);
      expect((await lim.status(subject, 'user')).activeLeases, subject).toBe(1);
      await lim.settle(first.lease!, { tokens: 0 });
      expect((await lim.status(subject, 'user')).activeLeases, subject).toBe(0);
      expect(await lim.recordViolation(subject, 0.1), subject).toBe('normal');
      const shown = await cli(['show', subject]);
      expect(shown.code, subject).toBe(0);
      expect(JSON.parse(shown.out), subject).toMatchObject({ subject, busyMs: { rph: expect.any(Number) } });
      expect((await cli(['ban', subject])).code, subject).toBe(0);
      expect(await lim.acquire({ subject, estimatedTokens: 0 }), subject).toMatchObject({ reason: 'banned' });
      expect((await cli(['lift', subject])).code, subject).toBe(0);
      expect((await lim.acquire({ subject, estimatedTokens: 0 })).allowed, subject).toBe(true);
      await lim.reset(subject);
      expect((await lim.status(subject, 'user')).dimensions.find((d) => d.dimension === 'rph')!.current).toBe(
        0,
      );
    }
  });

  it("a subject named like another's digest (sha256:<hex>) does not share its bucket", async () => {
    const lim = new RateLimiter({
      store,
      tiers: { t: { requestsPerHour: 1 } },
      failurePolicy: 'closed',
      commandTimeoutMs: 5_000,
    });
    const victim = `}victim-${Date.now()}`;
    const long = `long-${Date.now()}-${'x'.repeat(200)}`;
    for (const target of [victim, long]) {
      const digest = rlKey(target).slice('llmsec:{'.length, -'}:rl'.length);
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect((await lim.acquire({ subject: digest, estimatedTokens: 0 })).allowed).toBe(true);
      await lim.ban(digest);
      expect((await lim.acquire({ subject: target, estimatedTokens: 0 })).allowed).toBe(true);
    }
  });

  it("the empty subject (an operator's '') has a hash tag: status and reset do not fail CROSSSLOT", async () => {
    const lim = new RateLimiter({ store, tiers: { t: { requestsPerHour: 1 } }, commandTimeoutMs: 5_000 });
    await lim.reset('');
    expect((await lim.status('')).level).toBe('normal');
  });
});
