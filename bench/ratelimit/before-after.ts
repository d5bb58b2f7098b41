// Before/after for the limiter's Redis path: an older copy of packages/ratelimit/src and the
// current one in one process, on one redis-server, rounds interleaved (the first a warm-up),
// c=64 over 10,000 subjects; CPU µs per operation of redis-server (/proc/<pid>/stat) and of
// this process, medians, against the raw EVALSHA ceiling of the same run. The older copy must
// sit inside the repository so that its imports resolve, e.g.:
//   git archive 94e0af0 packages/ratelimit/src | tar -x -C bench/ratelimit/.old
//   BENCH_OLD_SRC=bench/ratelimit/.old/packages/ratelimit/src/index.ts \
//     node --conditions=@llmsec/source bench/ratelimit/before-after.ts
// BENCH_SECONDS (default 2) per cell, BENCH_ROUNDS (default 7). Linux only (/proc). A round in
// which the fallback store decided any acquire (a Redis call timed out) is not counted: printed.
// The ratios are also taken round by round (each row against the ceiling of its own round) and
// printed as median and interquartile range: the spread of a ratio on a shared machine.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { startRedis } from '../../test/support/redis.ts';
import * as Current from '../../packages/ratelimit/src/index.ts';
import type { TierLimits } from '../../packages/ratelimit/src/index.ts';
import { ALL, WINDOWED, request as req } from './tiers.ts';
import { anyDegraded, countedFallback, takeDegraded, watchStoreFailures } from './degraded.ts';

const oldSrc = process.env.BENCH_OLD_SRC;
if (!oldSrc)
  throw new Error('set BENCH_OLD_SRC to an older packages/ratelimit/src/index.ts (see the header)');
const Old = (await import(pathToFileURL(resolve(oldSrc)).href)) as typeof Current;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

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
  type Lib = typeof Current;
  const limiter = (lib: Lib, tier: TierLimits) =>
    new lib.RateLimiter({
      store: new lib.RedisStore({ client }),
      tiers: { t: tier },
      commandTimeoutMs: 5_000,
      fallbackStore: countedFallback(new lib.MemoryStore()),
    });
  const pair = (lim: Current.RateLimiter) => async (s: string) => {
    const r = await lim.acquire(req(s));
    if (r.lease) await lim.settle(r.lease, { tokens: 650, costMicroUsd: 1_950 });
  };
  // Requests in flight: each lease is settled HELD acquires after its own (one FIFO over the
  // 64 workers), so a subject (one acquire in 10,000) holds about two others at each acquire,
  // as a user with requests in flight does; the rows above leave every lease open (sets grow
  // through the cell) or settle at once (empty sets). `fill` takes the first HELD leases
  // before the clock starts, so every counted operation is one acquire and one settle;
  // `drain` settles what is left after the cell, uncounted.
  const HELD = 20_000;
  const inFlight = (lim: Current.RateLimiter) => {
    let q: Current.Lease[] = [];
    let head = 0;
    const settleOne = () => lim.settle(q[head++]!, { tokens: 650, costMicroUsd: 1_950 });
    const op = async (s: string) => {
      const r = await lim.acquire(req(s));
      if (r.lease) q.push(r.lease);
      if (q.length - head > HELD) await settleOne();
      if (head > 4 * HELD) {
        q = q.slice(head);
        head = 0;
      }
    };
    const drain = async () => {
      while (head < q.length) await settleOne();
      q = [];
      head = 0;
    };
    const fill = async (name: string) => {
      let i = 0;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (i < HELD) {
            const r = await lim.acquire(req(`${name}-${i++ % 10_000}`));
            if (r.lease) q.push(r.lease);
          }
        }),
      );
    };
    return [op, drain, fill] as const;
  };
  const oldWindowed = limiter(Old, WINDOWED);
  const newWindowed = limiter(Current, WINDOWED);
  const oldAll = limiter(Old, ALL);
  const newAll = limiter(Current, ALL);
  const [oldHeld, oldDrain, oldFill] = inFlight(limiter(Old, ALL));
  const [newHeld, newDrain, newFill] = inFlight(limiter(Current, ALL));
  type Row = [
    string,
    (s: string) => Promise<unknown>,
    (() => Promise<void>)?,
    ((name: string) => Promise<void>)?,
  ];
  const rows: Row[] = [
    ['raw EVALSHA `return 1` (ceiling)', (s) => client.evalsha(sha, 1, s)],
    ['acquire (8 windowed dims), before', (s) => oldWindowed.acquire(req(s))],
    ['acquire (8 windowed dims), after', (s) => newWindowed.acquire(req(s))],
    ['acquire (all 9, leases left open), before', (s) => oldAll.acquire(req(s))],
    ['acquire (all 9, leases left open), after', (s) => newAll.acquire(req(s))],
    ['acquire + settle (all 9), before', pair(limiter(Old, ALL))],
    ['acquire + settle (all 9), after', pair(limiter(Current, ALL))],
    // No concurrency limit: what an acquire + settle pair costs with no lease at all, the
    // bound of any lease design (leases inline in the state still need settle's GET + SET).
    ['acquire + settle (8 windowed dims, no lease), after', pair(limiter(Current, WINDOWED))],
    ['acquire + settle (all 9), ~2 leases in flight per subject, before', oldHeld, oldDrain, oldFill],
    ['acquire + settle (all 9), ~2 leases in flight per subject, after', newHeld, newDrain, newFill],
  ];

  const rejected: string[] = [];
  const seen = new Map<string, { redis: number[]; node: number[]; rate: number[] }>();
  // Per round: the row's rate and both-process CPU per op (for ratios within one round).
  const perRound = new Map<string, Map<number, { rate: number; both: number }>>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, op, drain, fill] of rows) {
      let i = 0;
      let done = 0;
      takeDegraded(); // a fill decided by the fallback store rejects the round too
      await fill?.(name);
      const r0 = redisCpuUs();
      const n0 = process.cpuUsage();
      const t0 = performance.now();
      const end = t0 + SECONDS * 1000;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (performance.now() < end) {
            await op(`${name}-${i++ % 10_000}`);
            done++;
          }
        }),
      );
      const wall = (performance.now() - t0) / 1000;
      const node = process.cpuUsage(n0);
      const r = redisCpuUs() - r0;
      const degraded = takeDegraded();
      await drain?.();
      await client.flushall();
      if (round === 0) continue; // warm-up
      if (anyDegraded(degraded)) {
        rejected.push(
          `${name}, round ${round}: ${degraded.decisions} acquires decided by the fallback store, ${degraded.failures} store failures (${Math.round(done / wall)} ops/s, not counted)`,
        );
        continue;
      }
      const e = seen.get(name) ?? { redis: [], node: [], rate: [] };
      seen.set(name, e);
      e.redis.push(r / done);
      e.node.push((node.user + node.system) / done);
      e.rate.push(done / wall);
      const pr = perRound.get(name) ?? new Map<number, { rate: number; both: number }>();
      perRound.set(name, pr);
      pr.set(round, { rate: done / wall, both: (r + node.user + node.system) / done });
    }
  }
  const median = (a: number[]): number =>
    a.length === 0 ? NaN : [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  /** Quartile q (0.25, 0.75) of `a`, linear between the nearest ranks. */
  const quartile = (a: number[], q: number): number => {
    if (a.length === 0) return NaN;
    const s = [...a].sort((x, y) => x - y);
    const at = (s.length - 1) * q;
    const lo = Math.floor(at);
    return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (at - lo);
  };
  /** A row's ratios to the ceiling of the same round, over the rounds both were counted in. */
  const roundRatios = (name: string): { rate: number[]; cpu: number[] } => {
    const out = { rate: [] as number[], cpu: [] as number[] };
    const ceil = perRound.get(rows[0]![0]);
    for (const [round, x] of perRound.get(name) ?? []) {
      const c = ceil?.get(round);
      if (c === undefined) continue;
      out.rate.push(x.rate / c.rate);
      out.cpu.push(c.both / x.both);
    }
    return out;
  };
  const iqr = (a: number[]): string =>
    `${median(a).toFixed(2)}x (${quartile(a, 0.25).toFixed(2)}-${quartile(a, 0.75).toFixed(2)})`;
  const both = (name: string): number =>
    median(seen.get(name)?.redis ?? []) + median(seen.get(name)?.node ?? []);
  const ceiling = both(rows[0]![0]);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`median of ${ROUNDS - 1} interleaved rounds, c=64, 10,000 subjects, load ${load}\n`);
  console.log(
    rejected.length === 0
      ? 'No acquire decided by the fallback store and no store failure in any round.\n'
      : `Rounds not counted (fallback store):\n${rejected.map((r) => `- ${r}`).join('\n')}\n`,
  );
  const ceilingRate = median(seen.get(rows[0]![0])?.rate ?? []);
  console.log(
    '| row | ops/s | by rate | redis µs/op | node µs/op | both µs/op | by CPU (ceiling both / this) | by rate, per round: median (IQR) | by CPU, per round: median (IQR) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [name] of rows) {
    const e = seen.get(name) ?? { redis: [], node: [], rate: [] };
    console.log(
      `| ${name} | ${Math.round(median(e.rate))} | ${(median(e.rate) / ceilingRate).toFixed(2)}x | ${median(e.redis).toFixed(2)} | ${median(e.node).toFixed(2)} | ${both(name).toFixed(2)} | ${(ceiling / both(name)).toFixed(2)}x | ${iqr(roundRatios(name).rate)} | ${iqr(roundRatios(name).cpu)} |`,
    );
  }
} finally {
  client.disconnect();
  await redis.stop();
}
