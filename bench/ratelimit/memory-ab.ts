// MemoryStore decisions per CPU-second through the public async API (`await limiter.acquire()`),
// this tree against another checkout (BASE, default /tmp/basec4, its node_modules linked), in
// one process, rounds interleaved (the order alternating), so both see the same machine load.
// Why by CPU: on a shared machine the wall-clock rate also counts time other processes took.
// One subject and 10,000 subjects (a 20,000-subject store), the eight windowed dimensions.
// Also, this tree alone: acquireSync() and `await acquireSync()`, to show what the async API
// adds: `await acquire()` costing what `await acquireSync()` does means the async path adds the
// one await and nothing else (no extra promise, closure or object).
//
//   npx node --conditions=@llmsec/source bench/ratelimit/memory-ab.ts
//   BASE=/path/to/other/checkout BENCH_SECONDS=1 BENCH_ROUNDS=8 (defaults)
import { join } from 'node:path';
import { WINDOWED } from './tiers.ts';

const BASE = process.env.BASE ?? '/tmp/basec4';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);

interface Lib {
  RateLimiter: new (o: object) => {
    acquire(r: object): Promise<{ allowed: boolean }>;
    acquireSync(r: object): { allowed: boolean };
  };
  MemoryStore: new (o: object) => object;
}

const trees: [string, Lib][] = [
  ['base', (await import(join(BASE, 'packages/ratelimit/src/index.ts'))) as Lib],
  ['this', (await import('../../packages/ratelimit/src/index.ts')) as unknown as Lib],
];

type Mode = 'await acquire()' | 'acquireSync()' | 'await acquireSync()';

/** Decisions per CPU-second of `names.length` subjects through `mode` for SECONDS. */
async function rate(lib: Lib, names: string[], mode: Mode = 'await acquire()'): Promise<number> {
  const lim = new lib.RateLimiter({ store: new lib.MemoryStore({ maxSubjects: 20_000 }), tiers: { t: WINDOWED } });
  const subjects = names.length;
  let n = 0;
  let refused = 0;
  const cpu0 = process.cpuUsage();
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    for (let k = 0; k < 1_000; k++) {
      const req = { subject: names[n++ % subjects]!, estimatedTokens: 700, estimatedCostMicroUsd: 2_100 };
      const r =
        mode === 'await acquire()'
          ? await lim.acquire(req)
          : mode === 'acquireSync()'
            ? lim.acquireSync(req)
            : // The await of a plain value is the point: it is the one await the async API adds.
              // eslint-disable-next-line @typescript-eslint/await-thenable
              await lim.acquireSync(req);
      if (!r.allowed) refused++;
    }
  }
  const cpu = process.cpuUsage(cpu0);
  if (refused > 0) throw new Error(`${refused} acquires refused: the bench measures the admitted path`);
  return n / ((cpu.user + cpu.system) / 1e6);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const M = (x: number): string => `${(x / 1e6).toFixed(3)} M`;

for (const subjects of [1, 10_000]) {
  const names = Array.from({ length: subjects }, (_, i) => `mem-${i}`);
  const got: Record<string, number[]> = { base: [], this: [] };
  const ratios: number[] = [];
  const own: Record<string, number[]> = { 'acquireSync()': [], 'await acquireSync()': [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? [...trees].reverse() : trees;
    const r: Record<string, number> = {};
    for (const [name, lib] of order) r[name] = await rate(lib, names);
    got.base!.push(r.base!);
    got.this!.push(r.this!);
    ratios.push(r.this! / r.base!);
    for (const mode of Object.keys(own) as Mode[]) own[mode]!.push(await rate(trees[1]![1], names, mode));
  }
  console.log(
    `${subjects} subject(s): this tree ${Object.entries(own)
      .map(([mode, xs]) => `${mode} ${M(median(xs))} (${(1e9 / median(xs)).toFixed(0)} ns)`)
      .join(', ')}, await acquire() ${(1e9 / median(got.this!)).toFixed(0)} ns\n  await acquire(): base ${M(median(got.base!))} (max ${M(Math.max(...got.base!))}), this ${M(median(got.this!))} (max ${M(Math.max(...got.this!))}) decisions per CPU-s; paired this/base median ${median(ratios).toFixed(3)}x (${ROUNDS} rounds of ${SECONDS}s, load ${(await import('node:os')).loadavg()[0]!.toFixed(1)})`,
  );
}
