// One subject back to back against changing subjects, at c=1 (one `await` after another):
// per row the rate, the CPU per operation of redis-server (/proc/<pid>/stat) and of this
// process, Redis's time inside EVALSHA per operation (INFO commandstats), for the raw
// `return 1` ceiling and the limiter (acquire, acquire + settle; coalescing on and off).
// Rounds interleaved (the first a warm-up), medians; ratios one subject / changing subjects.
//   node --conditions=@llmsec/source bench/ratelimit/same-subject.ts
// BENCH_SECONDS (default 1) per cell, BENCH_ROUNDS (default 5), BENCH_SUBJECTS (default
// 10,000: how many subjects the changing rows rotate over). Linux only (/proc). Rounds in
// which the fallback store decided an acquire are not counted (degraded.ts).
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { startRedis } from '../../test/support/redis.ts';
import { MemoryStore, RateLimiter, RedisStore, type TierLimits } from '../../packages/ratelimit/src/index.ts';
import { coalescerOf } from '../../packages/ratelimit/src/redis-store.ts';
import { rlKey } from '../../packages/ratelimit/src/redis.ts';
import { fmt } from '../report.ts';
import { ALL, WINDOWED, request as req } from './tiers.ts';
import { anyDegraded, countedFallback, takeDegraded, watchStoreFailures } from './degraded.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SUBJECTS = Number(process.env.BENCH_SUBJECTS ?? 10_000);

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
    return new RateLimiter({
      store,
      tiers: { t: tier },
      commandTimeoutMs: 5_000,
      fallbackStore: countedFallback(new MemoryStore()),
    });
  };
  const pair = (lim: RateLimiter) => async (s: string) => {
    const r = await lim.acquire(req(s));
    if (r.lease) await lim.settle(r.lease, { tokens: 650, costMicroUsd: 1_950 });
  };
  const ops: [string, (s: string) => Promise<unknown>][] = [
    ['raw EVALSHA `return 1`, the subject key', (s) => client.evalsha(sha, 1, rlKey(s))],
    [
      'acquire, 8 windowed dims',
      (
        (l) => (s: string) =>
          l.acquire(req(s))
      )(limiter(WINDOWED, true)),
    ],
    [
      'acquire, 8 windowed dims, not coalesced',
      (
        (l) => (s: string) =>
          l.acquire(req(s))
      )(limiter(WINDOWED, false)),
    ],
    ['acquire + settle, all 9', pair(limiter(ALL, true))],
    ['acquire + settle, all 9, not coalesced', pair(limiter(ALL, false))],
  ];
  type Sample = { ops: number[]; redis: number[]; node: number[]; script: number[]; calls: number[] };
  const samples = new Map<string, Sample>();
  const rejected: string[] = [];
  const scriptStats = async (): Promise<[number, number]> => {
    const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(await client.info('commandstats'));
    return [Number(m?.[1] ?? 0), Number(m?.[2] ?? 0)];
  };
  for (let round = 0; round <= ROUNDS; round++) {
    for (const [name, op] of ops) {
      for (const one of [true, false]) {
        const key = `${name}|${one ? 'one' : 'changing'}`;
        await client.config('RESETSTAT');
        takeDegraded();
        let i = 0;
        const r0 = redisCpuUs();
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const end = t0 + SECONDS * 1000;
        while (performance.now() < end) {
          await op(one ? `one-${round}` : `s${round}-${i % SUBJECTS}`);
          i++;
        }
        const wall = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(c0);
        const redisUs = redisCpuUs() - r0;
        const [calls, usec] = await scriptStats();
        const degraded = takeDegraded();
        if (round === 0) continue; // warm-up
        if (anyDegraded(degraded)) {
          rejected.push(
            `${key} round ${round}: ${degraded.decisions} fallback decisions, ${degraded.failures} failures`,
          );
          continue;
        }
        const s = samples.get(key) ?? { ops: [], redis: [], node: [], script: [], calls: [] };
        samples.set(key, s);
        s.ops.push(i / wall);
        s.redis.push(redisUs / i);
        s.node.push((cpu.user + cpu.system) / i);
        s.script.push(usec / i);
        s.calls.push(calls / i);
      }
    }
    await client.flushall();
  }
  const median = (xs: number[]): number => {
    if (xs.length === 0) return NaN;
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(
    `c=1, one subject vs ${fmt(SUBJECTS)} changing, ${SECONDS}s x ${ROUNDS} rounds (+1 warm-up), medians; load ${load}\n`,
  );
  if (rejected.length) console.log(`Rounds not counted (fallback store):\n${rejected.join('\n')}\n`);
  console.log(
    '| row | subjects | ops/s | µs/op wall | redis µs/op | in EVALSHA µs/op | EVALSHA/op | node µs/op | one / changing (rate) |',
  );
  console.log('|---|---|--:|--:|--:|--:|--:|--:|--:|');
  for (const [name] of ops) {
    for (const one of [true, false]) {
      const s = samples.get(`${name}|${one ? 'one' : 'changing'}`);
      const other = samples.get(`${name}|changing`);
      if (!s) continue;
      const rate = median(s.ops);
      console.log(
        `| ${name} | ${one ? '1' : fmt(SUBJECTS)} | ${fmt(rate)} | ${(1e6 / rate).toFixed(1)} | ${median(s.redis).toFixed(2)} | ${median(s.script).toFixed(2)} | ${median(s.calls).toFixed(2)} | ${median(s.node).toFixed(2)} | ${one && other ? `${(rate / median(other.ops)).toFixed(2)}x` : ''} |`,
      );
    }
  }
} finally {
  client.disconnect();
  await redis.stop();
}
