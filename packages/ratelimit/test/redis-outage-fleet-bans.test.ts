import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { startRedis, startRedisCluster } from '../../../test/support/redis.ts';
import { until } from '../../../test/support/until.ts';
import { BAN_INDEX_KEY } from '../src/redis-ban-index.ts';
import { RateLimiter } from '../src/limiter.ts';
import { RedisStore } from '../src/redis-store.ts';
import { cli } from './cli-run.ts';

// A ban set by another process (the CLI, the detector's fleet enforcement, another replica's
// refusals driving a score) reached a replica only as Redis's refusal. A replica that never met
// the subject while Redis was up failed open through a fallback that had never heard of the
// ban, and admitted the banned client for as long as Redis was away. Now every limiter reads
// the fleet's ban index (llmsec:bans) every banSyncIntervalMs and holds it for that case.

const NODE = fileURLToPath(new URL('../../../node_modules/.bin/node', import.meta.url));
const REPLICA = fileURLToPath(new URL('./fixtures/ban-replica-process.ts', import.meta.url));

interface Replica {
  ask(line: string): Promise<Record<string, unknown>>;
  holds(subject: string): Promise<boolean>;
}

const children: ChildProcess[] = [];
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const f of cleanup.splice(0)) await f();
});

async function replica(mode: 'redis' | 'cluster', target: string): Promise<Replica> {
  const proc = spawn(NODE, [REPLICA, mode, target, '100'], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(proc);
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`replica exited early:\n${err}`);
    return value as string;
  };
  expect(await next()).toBe('ready');
  const ask = async (line: string): Promise<Record<string, unknown>> => {
    proc.stdin!.write(line + '\n');
    return JSON.parse(await next()) as Record<string, unknown>;
  };
  return { ask, holds: async (s) => (await ask(`holds ${s}`)).holds === true };
}

/**
 * Bans by three processes of the fleet's: the CLI (mallory, and walt, lifted again), the
 * detection hook driving a score past bannedAt in this process (an address); replica `a` meets
 * mallory while Redis is up, replica `b` meets no one. Then Redis goes away.
 */
async function fleetScenario(
  mode: 'redis' | 'cluster',
  target: string,
  cliTarget: string[],
  operator: RateLimiter,
  stopRedis: () => Promise<void>,
): Promise<void> {
  const a = await replica(mode, target);
  const b = await replica(mode, target);
  expect((await cli(['limits', 'ban', 'mallory', ...cliTarget])).code).toBe(0);
  expect((await cli(['limits', 'ban', 'walt', ...cliTarget])).code).toBe(0);
  expect(await operator.recordViolation('ip:198.51.100.9', 60)).toBe('banned');
  expect(await a.ask('acquire mallory')).toMatchObject({ allowed: false, reason: 'banned', degraded: false });

  // b reads the index on its timer; then walt's ban is lifted and b reads that too.
  await until(async () => (await b.holds('mallory')) && (await b.holds('walt')), 20_000, 50).catch(
    () => undefined, // before the index, never: the refusal below says what that means
  );
  expect((await cli(['limits', 'lift', 'walt', ...cliTarget])).code).toBe(0);
  // Both replicas: a lift reaches each copy at its next read (until then an outage holds walt).
  await until(async () => !(await b.holds('walt')) && !(await a.holds('walt')), 20_000, 50);

  await stopRedis();
  for (const r of [b, a]) {
    expect(await r.ask('acquire mallory')).toEqual({ allowed: false, reason: 'banned', degraded: true });
    expect(await r.ask('acquire trent ip:198.51.100.9')).toEqual({
      allowed: false,
      reason: 'banned',
      degraded: true,
    });
    expect(await r.ask('acquire walt')).toMatchObject({ allowed: true, degraded: true });
    expect(await r.ask('acquire alice')).toMatchObject({ allowed: true, degraded: true });
  }
}

function operatorOn(client: Redis | Cluster): RateLimiter {
  return new RateLimiter({
    store: new RedisStore({ client }),
    tiers: { t: { requestsPerHour: 1_000 } },
    failurePolicy: 'closed',
    commandTimeoutMs: 5_000,
    warmTokenizer: false,
  });
}

describe("a ban holds on every replica while Redis is away (the fleet's ban index)", () => {
  it('standalone: a replica that never met a banned subject refuses it failing open; a lifted one is admitted', async () => {
    const redis = await startRedis();
    let killed = false;
    cleanup.push(() => (killed ? undefined : redis.stop()));
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    cleanup.push(() => client.disconnect());
    await fleetScenario('redis', redis.url, ['--redis', redis.url], operatorOn(client), async () => {
      // The index as written: one member per active ban, ending in about a year.
      const members = await client.zrange(BAN_INDEX_KEY, 0, -1);
      expect(members.sort()).toEqual(['ip:198.51.100.9', 'mallory']);
      killed = true;
      await redis.kill();
    });
  });

  it('cluster: the same on a three-master Redis Cluster, every master stopped', async () => {
    const cluster = await startRedisCluster(3);
    let stopped = false;
    cleanup.push(() => (stopped ? undefined : cluster.stop()));
    const client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
    client.on('error', () => {});
    cleanup.push(() => client.disconnect());
    const nodes = cluster.nodes.map((n) => `${n.host}:${n.port}`);
    const first = `redis://${nodes[0]!}`;
    await fleetScenario(
      'cluster',
      nodes.join(','),
      ['--redis', first, '--cluster'],
      operatorOn(client),
      async () => {
        stopped = true;
        await cluster.stop();
      },
    );
  });
});
