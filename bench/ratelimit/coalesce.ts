// Coalescing on and off in one run: the raw EVALSHA `return 1` ceiling and the limiter's
// acquire (8 windowed dims; all 9 with leases left open) and acquire + settle (all 9), each
// with RedisStore's coalescing on and off (one EVALSHA per call), at c=64 over 10,000
// subjects on one redis-server this bench starts. Rounds interleaved, medians; per row the
// rate, the CPU per operation of redis-server (/proc/<pid>/stat) and of this process, and
// the ratios to the ceiling (by rate and by the CPU of both processes), and Redis's time inside
// the scripts per operation (INFO commandstats, EVALSHA usec): the rest of redis-server's CPU
// is reading commands, writing replies, expiring keys and its event loop.
//   node --conditions=@llmsec/source bench/ratelimit/coalesce.ts
// BENCH_SECONDS (default 1.5) per cell, BENCH_ROUNDS (default 5), BENCH_BATCH (default 32:
// calls per batched EVALSHA at most). Linux only (/proc). A round in which the fallback store
// decided any acquire (a Redis call timed out) is not counted in the medians: printed instead.
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { startRedis } from '../../test/support/redis.ts';
import { MemoryStore, RateLimiter, RedisStore, type TierLimits } from '../../packages/ratelimit/src/index.ts';
import { coalescerOf } from '../../packages/ratelimit/src/redis-store.ts';
import { fmt } from '../report.ts';
import { ALL, WINDOWED, request as req } from './tiers.ts';
import { anyDegraded, countedFallback, takeDegraded, watchStoreFailures } from './degraded.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1.5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCH = Number(process.env.BENCH_BATCH ?? 32);
const CONCURRENCY = 64;
const SUBJECTS = 10_000;

const redis = await startRedis();
const client = new Redis(redis.url);
watchStoreFailures();
try {
  const pid = Number(/process_id:(\d+)/.exec(await client.info('server'))![1]);
  const redisCpuUs = (): number => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 1e4; // utime + stime, 100 ticks per second
  };
  const sha = (await client.script('LOAD', 'return 1')) as string;
  const limiter = (tier: TierLimits, coalesce: boolean): RateLimiter => {
    const store = new RedisStore({ client });
    coalescerOf(store).enabled = coalesce;
    coalescerOf(store).maxCalls = BATCH;
    return new RateLimiter({
      store,
      tiers: { t: tier },
      commandTimeoutMs: 5_000,
      fallbackStore: countedFallback(new MemoryStore()),
    });
  };
  const acquireAndSettle = (lim: RateLimiter) => async (s: string) => {
    const r = await lim.acquire(req(s));
    if (r.lease) await lim.settle(r.lease, { tokens: 650, costMicroUsd: 1_950 });
  };
  const rows: [string, (s: string) => Promise<unknown>][] = [
    ['raw EVALSHA `return 1` (ceiling)', (s) => client.evalsha(sha, 1, s)],
    [
      'acquire, 8 windowed dims, coalesced',
      (
        (l) => (s: string) =>
          l.acquire(req(s))
      )(limiter(WINDOWED, true)),
    ],
    [
      'acquire, 8 windowed dims, one EVALSHA per call',
      (
        (l) => (s: string) =>
          l.acquire(req(s))
      )(limiter(WINDOWED, false)),
    ],
    [
      'acquire, all 9 dims (leases left open), coalesced',
      (
        (l) => (s: string) =>
          l.acquire(req(s))
      )(limiter(ALL, true)),
    ],
    [
      'acquire, all 9 dims (leases left open), one EVALSHA per call',
      (
        (l) => (s: string) =>
          l.acquire(req(s))
      )(limiter(ALL, false)),
    ],
    ['acquire + settle, all 9 dims, coalesced', acquireAndSettle(limiter(ALL, true))],
    ['acquire + settle, all 9 dims, one EVALSHA per call', acquireAndSettle(limiter(ALL, false))],
  ];

  const samples = rows.map(() => ({
    ops: [] as number[],
    redis: [] as number[],
    node: [] as number[],
    script: [] as number[],
  }));
  const rejected: string[] = [];
  const scriptUs = async (): Promise<number> =>
    Number(/cmdstat_evalsha:calls=\d+,usec=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);
  for (let round = 0; round < ROUNDS + 1; round++) {
    for (const [i, [, op]] of rows.entries()) {
      let n = 0;
      let done = 0;
      await client.config('RESETSTAT');
      takeDegraded();
      const r0 = redisCpuUs();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const end = t0 + SECONDS * 1000;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (performance.now() < end) {
            await op(`c${round}-${n++ % SUBJECTS}`);
            done++;
          }
        }),
      );
      const wall = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(c0);
      const redisUs = redisCpuUs() - r0;
      const degraded = takeDegraded();
      if (round === 0) continue; // warm-up
      if (anyDegraded(degraded)) {
        rejected.push(
          `${rows[i]![0]}, round ${round}: ${degraded.decisions} acquires decided by the fallback store, ${degraded.failures} store failures (${fmt(done / wall)} ops/s, not counted)`,
        );
        continue;
      }
      samples[i]!.ops.push(done / wall);
      samples[i]!.redis.push(redisUs / done);
      samples[i]!.node.push((cpu.user + cpu.system) / done);
      samples[i]!.script.push((await scriptUs()) / done);
    }
    await client.flushall();
  }

  const median = (xs: number[]): number => {
    if (xs.length === 0) return NaN; // every round degraded
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const m = samples.map((x) => ({
    ops: median(x.ops),
    redis: median(x.redis),
    node: median(x.node),
    script: median(x.script),
  }));
  const ceiling = m[0]!;
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(
    `c=${CONCURRENCY}, ${fmt(SUBJECTS)} subjects, batches of at most ${BATCH}, ${SECONDS}s x ${ROUNDS} rounds (+1 warm-up), medians; load ${load}\n`,
  );
  console.log(
    rejected.length === 0
      ? 'No acquire decided by the fallback store and no store failure in any round.\n'
      : `Rounds not counted (fallback store):\n${rejected.map((r) => `- ${r}`).join('\n')}\n`,
  );
  console.log('| row | ops/s | by rate | redis µs/op | in scripts | node µs/op | both | by CPU |');
  console.log('|---|--:|--:|--:|--:|--:|--:|--:|');
  for (const [i, [name]] of rows.entries()) {
    const r = m[i]!;
    const both = r.redis + r.node;
    console.log(
      `| ${name} | ${fmt(r.ops)} | ${(r.ops / ceiling.ops).toFixed(2)}x | ${r.redis.toFixed(2)} | ${r.script.toFixed(2)} | ${r.node.toFixed(2)} | ${both.toFixed(2)} | ${((ceiling.redis + ceiling.node) / both).toFixed(2)}x |`,
    );
  }
} finally {
  client.disconnect();
  await redis.stop();
}
