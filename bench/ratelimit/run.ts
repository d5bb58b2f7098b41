// Rate-limiter benchmark: one command (`npm run bench:ratelimit`), one local redis-server
// started here, every contender measured in the same run so the ratios are comparable.
// BENCH_SECONDS (default 1.5) sets the time per cell; BENCH_ROUNDS (default 3) interleaved rounds, best kept.
// A round in which any acquire was decided by the fallback store (a Redis call timed out) is
// never kept: the counts are printed (degraded.ts). BENCH_COMMAND_TIMEOUT_MS (default 5,000)
// is the limiters' command timeout (a small value shows the rejection at work).
// BENCH_AUTOPIPELINE=1: the one ioredis client every contender shares gets `enableAutoPipelining: true`.
// `--quick` (for iterating): only raw EVALSHA, rate-limiter-flexible and ours, no memory/race sections.
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { startRedis } from '../../test/support/redis.ts';
import { MemoryStore, RateLimiter, RedisStore, type TierLimits } from '../../packages/ratelimit/src/index.ts';
import { leaseKey, rlKey } from '../../packages/ratelimit/src/redis.ts';
import { coalescerOf } from '../../packages/ratelimit/src/redis-store.ts';
import { FlexiblePeer } from './flexible-peer.ts';
import { SeedRateLimiter } from './seed.ts';
import { ALL, HUGE, WINDOWED, request } from './tiers.ts';
import { fmt } from '../report.ts';
import { anyDegraded, countedFallback, takeDegraded, watchStoreFailures, type Degraded } from './degraded.ts';

const QUICK = process.argv.includes('--quick');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1.5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TIMEOUT_MS = Number(process.env.BENCH_COMMAND_TIMEOUT_MS ?? 5_000);
const SEED_HUGE = { rpm: HUGE, rph: HUGE, rpd: HUGE, tpm: HUGE, tph: HUGE, concurrent: HUGE };

type Op = (subject: string) => Promise<unknown>;

interface Cell {
  ops: number;
  /** CPU per operation, µs: redis-server (INFO cpu, user + sys) and this Node process. */
  redisUs: number;
  nodeUs: number;
  /** Acquires the fallback store decided and store failures reported during the cell. */
  degraded: Degraded;
}

async function redisCpuUs(): Promise<number> {
  const info = await client.info('cpu');
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0);
  return (user + sys) * 1e6;
}

async function throughput(op: Op, concurrency: number, subjects: number, prefix: string): Promise<Cell> {
  let i = 0;
  let done = 0;
  takeDegraded();
  const redis0 = await redisCpuUs();
  const node0 = process.cpuUsage();
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await op(`${prefix}${subjects === 1 ? 0 : i++ % subjects}`);
        done++;
      }
    }),
  );
  const ops = done / ((performance.now() - t0) / 1000);
  const node = process.cpuUsage(node0);
  const degraded = takeDegraded();
  const redisUs = ((await redisCpuUs()) - redis0) / done;
  return { ops, redisUs, nodeUs: (node.user + node.system) / done, degraded };
}

const redis = await startRedis();
const AUTOPIPELINE = process.env.BENCH_AUTOPIPELINE === '1';
const client = new Redis(redis.url, { enableAutoPipelining: AUTOPIPELINE });
watchStoreFailures();
/** A bench limiter: command timeout as configured, a counted fallback store. */
const limiterOn = (store: RedisStore, tier: TierLimits): RateLimiter =>
  new RateLimiter({
    store,
    tiers: { t: tier },
    commandTimeoutMs: TIMEOUT_MS,
    fallbackStore: countedFallback(new MemoryStore()),
  });

try {
  const info = (await client.info('server')).match(/redis_version:(\S+)/)?.[1];
  console.log(
    `redis-server ${info} on 127.0.0.1 (started by the benchmark), node ${process.version}, one ioredis client shared by every contender (enableAutoPipelining: ${AUTOPIPELINE}), ${SECONDS}s x ${ROUNDS} rounds per cell, best kept\n`,
  );

  // --- MemoryStore decisions per second (in-process, first: before the Redis runs fill the heap) ---
  // Wall-clock rate and rate per second of CPU this process got (on a shared machine the
  // second is what the code costs; the first also counts time other processes took).
  const memRowsOut: string[][] = [];
  const rate = async (decide: (n: number) => unknown): Promise<[number, number]> => {
    let bestWall = 0;
    let bestCpu = 0;
    for (let round = 0; round < ROUNDS; round++) {
      let n = 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const end = t0 + SECONDS * 1000;
      while (performance.now() < end) {
        for (let k = 0; k < 1_000; k++) await decide(n++);
      }
      const cpu = process.cpuUsage(cpu0);
      bestWall = Math.max(bestWall, n / ((performance.now() - t0) / 1000));
      bestCpu = Math.max(bestCpu, n / ((cpu.user + cpu.system) / 1e6));
    }
    return [bestWall, bestCpu];
  };
  for (const subjects of QUICK ? [] : [1, 10_000]) {
    const lim = new RateLimiter({ store: new MemoryStore({ maxSubjects: 20_000 }), tiers: { t: WINDOWED } });
    const names = Array.from({ length: subjects }, (_, i) => `mem-${i}`);
    const r = { subject: '', estimatedTokens: 700, estimatedCostMicroUsd: 2_100 };
    // Awaiting a non-promise still yields a microtask: the sync column measures without it.
    let syncRate: [number, number] = [0, 0];
    {
      let bestWall = 0;
      let bestCpu = 0;
      for (let round = 0; round < ROUNDS; round++) {
        let n = 0;
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const end = t0 + SECONDS * 1000;
        while (performance.now() < end) {
          for (let k = 0; k < 1_000; k++) {
            r.subject = names[n++ % subjects]!;
            lim.acquireSync(r);
          }
        }
        const cpu = process.cpuUsage(cpu0);
        bestWall = Math.max(bestWall, n / ((performance.now() - t0) / 1000));
        bestCpu = Math.max(bestCpu, n / ((cpu.user + cpu.system) / 1e6));
      }
      syncRate = [bestWall, bestCpu];
    }
    const asyncRate = await rate((n) =>
      lim.acquire({ subject: names[n % subjects]!, estimatedTokens: 700, estimatedCostMicroUsd: 2_100 }),
    );
    memRowsOut.push([
      `${fmt(subjects)} subject(s), 8 windowed dims`,
      fmt(syncRate[0]),
      fmt(syncRate[1]),
      fmt(asyncRate[0]),
      fmt(asyncRate[1]),
    ]);
  }
  if (!QUICK)
    printTable(
      'MemoryStore decisions/s (one core)',
      ['', 'acquireSync() wall', 'per CPU-s', 'await acquire() wall', 'per CPU-s'],
      memRowsOut,
    );

  // --- contenders ---
  const TRIVIAL = 'return 1';
  const sha = (await client.script('LOAD', TRIVIAL)) as string;
  const rlf = new RateLimiterRedis({
    storeClient: client,
    points: 1_000_000_000,
    duration: 60,
    keyPrefix: 'rlf',
  });
  const seed = new SeedRateLimiter(client, SEED_HUGE);
  const peer = new FlexiblePeer(client, HUGE);
  const store = new RedisStore({ client });
  const windowed = limiterOn(store, WINDOWED);
  const all = limiterOn(store, ALL);
  // The same limiter with coalescing off (one EVALSHA per call, as before it): same client.
  const single = new RedisStore({ client });
  coalescerOf(single).enabled = false;
  const windowed1 = limiterOn(single, WINDOWED);
  const all1 = limiterOn(single, ALL);
  const req = request;

  const allContenders: [string, string, Op][] = [
    ['raw EVALSHA `return 1` (ceiling)', 'raw', (s) => client.evalsha(sha, 1, s)],
    // Not the ceiling: the same trivial script called with acquire's argument list (two keys,
    // lease id, tokens, cost), to show what the longer command itself costs both processes.
    [
      'raw EVALSHA `return 1`, acquire-shaped args',
      'raw5',
      (s) => client.evalsha(sha, 2, rlKey(s), leaseKey(s), '0123456789abcdef0123456789abcdef', 700, 2_100),
    ],
    ['rate-limiter-flexible consume() (1 limit)', 'rlf', (s) => rlf.consume(s)],
    [
      'seed port: check + record (6 limits, 12 RTT)',
      'seed',
      async (s) => {
        const r = await seed.check(s, 700);
        if (r.allowed) await seed.record(s, 700);
      },
    ],
    ['rate-limiter-flexible, same 8 windowed dims', 'rlf8', (s) => peer.acquire(s, 700, 2_100, false)],
    [
      'rate-limiter-flexible, same 9 dims + settle',
      'rlf9',
      async (s) => {
        await peer.acquire(s, 700, 2_100, true);
        await peer.settle(s, -50, -150);
      },
    ],
    ['llmsec acquire (8 windowed dims)', 'acq', (s) => windowed.acquire(req(s))],
    ['llmsec acquire (8 windowed dims), not coalesced', 'acq1', (s) => windowed1.acquire(req(s))],
    // The "all dimensions": concurrency too. Leases stay open (in-flight requests):
    // a few per subject per cell, the sets are flushed after each contender.
    ['llmsec acquire (all 9 dims, leases left open)', 'acq9', (s) => all.acquire(req(s))],
    [
      'llmsec acquire + settle (all 9 dims)',
      'acqset',
      async (s) => {
        const r = await all.acquire(req(s));
        if (r.lease) await all.settle(r.lease, { tokens: 650, costMicroUsd: 1_950 });
      },
    ],
    [
      'llmsec acquire + settle (all 9 dims), not coalesced',
      'acqset1',
      async (s) => {
        const r = await all1.acquire(req(s));
        if (r.lease) await all1.settle(r.lease, { tokens: 650, costMicroUsd: 1_950 });
      },
    ],
  ];
  const contenders = QUICK ? allContenders.filter(([, tag]) => tag !== 'seed') : allContenders;
  const byTag = (tag: string): string => allContenders.find(([, t]) => t === tag)![0];

  // Rounds are interleaved (every contender once per round, best kept) so that load from
  // other processes on a shared machine does not favour whichever contender ran first.
  // A cell's rounds with degraded decisions are printed and never kept (degraded.ts).
  const results = new Map<string, number>();
  const cpu = new Map<string, Cell>();
  const rejected: string[][] = [];
  const cells: [number, number][] = [
    [1, 1],
    [64, 1],
    [1, 10_000],
    [64, 10_000],
  ];
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, tag, op] of contenders) {
      for (const [conc, subjects] of cells) {
        const key = `${name}|${conc}|${subjects}`;
        const v = await throughput(op, conc, subjects, `${tag}-${conc}-${subjects}-`);
        if (anyDegraded(v.degraded)) {
          rejected.push([
            `${name}, c=${conc} subj=${subjects}, round ${r + 1}`,
            fmt(v.ops),
            fmt(v.degraded.decisions),
            fmt(v.degraded.failures),
          ]);
        } else if (v.ops > (results.get(key) ?? 0)) {
          cpu.set(key, v);
          results.set(key, v.ops);
        }
      }
      await client.flushall();
    }
  }

  if (rejected.length === 0)
    console.log('No acquire decided by the fallback store and no store failure in any round.\n');
  else
    printTable(
      'Rounds not kept: acquires decided by the fallback store (store timed out or failed)',
      ['cell', 'ops/s (not kept)', 'degraded decisions', 'store failures'],
      rejected,
    );

  const header = ['contender', ...cells.map(([c, s]) => `c=${c} subj=${s}`)];
  const rows = contenders.map(([name]) => [
    name,
    ...cells.map(([c, s]) => {
      const v = results.get(`${name}|${c}|${s}`);
      return v === undefined ? 'every round degraded' : fmt(v);
    }),
  ]);
  printTable('Redis throughput, operations/s', header, rows);

  printTable(
    'CPU per operation at c=64, 10,000 subjects (µs; the best round of each contender)',
    ['contender', 'ops/s', 'redis-server µs/op', 'node µs/op', 'redis-server busy', 'node busy'],
    contenders.map(([name]) => {
      const c = cpu.get(`${name}|64|10000`);
      if (!c) return [name, 'every round degraded', '', '', '', ''];
      // Share of one core each process used during the cell (µs/op x ops/s): which one is
      // the bottleneck, and how much of the machine neither got (others' load, waiting).
      const busy = (us: number): string => `${((us * c.ops) / 1e4).toFixed(0)}%`;
      return [name, fmt(c.ops), c.redisUs.toFixed(2), c.nodeUs.toFixed(2), busy(c.redisUs), busy(c.nodeUs)];
    }),
  );

  // The same comparison by CPU cost instead of wall-clock rate: on a loaded machine the rate
  // of each cell depends on what else ran then, the CPU an operation takes much less.
  const cpuOf = (tag: string): Cell | undefined => cpu.get(`${byTag(tag)}|64|10000`);
  const cpuRatio = (a: Cell | undefined, b: Cell | undefined): string[] => [
    ratio(b?.redisUs, a?.redisUs),
    ratio(b?.nodeUs, a?.nodeUs),
    ratio(b && b.redisUs + b.nodeUs, a && a.redisUs + a.nodeUs),
  ];
  printTable(
    'CPU-cost ratios at c=64, 10,000 subjects (the other µs/op over ours: above 1x = ours cheaper)',
    ['', 'redis-server', 'node', 'both'],
    [
      ['llmsec acquire vs raw EVALSHA ceiling', ...cpuRatio(cpuOf('acq'), cpuOf('raw'))],
      ['llmsec acquire, not coalesced, vs raw EVALSHA ceiling', ...cpuRatio(cpuOf('acq1'), cpuOf('raw'))],
      ['llmsec acquire vs raw EVALSHA, acquire-shaped args', ...cpuRatio(cpuOf('acq'), cpuOf('raw5'))],
      ['llmsec acquire (all 9 dims) vs raw EVALSHA ceiling', ...cpuRatio(cpuOf('acq9'), cpuOf('raw'))],
      ['llmsec acquire vs rate-limiter-flexible, same 8 dims', ...cpuRatio(cpuOf('acq'), cpuOf('rlf8'))],
      ['llmsec acquire + settle vs raw EVALSHA ceiling', ...cpuRatio(cpuOf('acqset'), cpuOf('raw'))],
      [
        'llmsec acquire + settle, not coalesced, vs raw EVALSHA ceiling',
        ...cpuRatio(cpuOf('acqset1'), cpuOf('raw')),
      ],
      [
        'llmsec acquire + settle vs rate-limiter-flexible, same 9 dims + settle',
        ...cpuRatio(cpuOf('acqset'), cpuOf('rlf9')),
      ],
    ],
  );

  const rlfName = byTag('rlf');
  const seedName = byTag('seed');
  const ceilingName = byTag('raw');
  const peerFor = (name: string): string =>
    name === byTag('acqset') || name === byTag('acqset1') ? byTag('rlf9') : byTag('rlf8');
  const ratioRows = [byTag('acq'), byTag('acq1'), byTag('acq9'), byTag('acqset'), byTag('acqset1')].flatMap(
    (name) => [
      [
        `${name} / rate-limiter-flexible`,
        ...cells.map(([c, s]) =>
          ratio(results.get(`${name}|${c}|${s}`), results.get(`${rlfName}|${c}|${s}`)),
        ),
      ],
      [
        `${name} / raw EVALSHA ceiling`,
        ...cells.map(([c, s]) =>
          ratio(results.get(`${name}|${c}|${s}`), results.get(`${ceilingName}|${c}|${s}`)),
        ),
      ],
      [
        `${name} / ${peerFor(name)}`,
        ...cells.map(([c, s]) =>
          ratio(results.get(`${name}|${c}|${s}`), results.get(`${peerFor(name)}|${c}|${s}`)),
        ),
      ],
      ...(QUICK
        ? []
        : [
            [
              `${name} / seed`,
              ...cells.map(([c, s]) =>
                ratio(results.get(`${name}|${c}|${s}`), results.get(`${seedName}|${c}|${s}`)),
              ),
            ],
          ]),
    ],
  );
  printTable('Ratios (same run)', header, ratioRows);
  if (!QUICK) await slowSections(rlf, seed, store, req);
} finally {
  client.disconnect();
  await redis.stop();
}

type Req = (subject: string) => { subject: string; estimatedTokens: number; estimatedCostMicroUsd: number };

/** Memory per subject and the race check (skipped by --quick). */
async function slowSections(
  rlf: RateLimiterRedis,
  seed: SeedRateLimiter,
  store: RedisStore,
  req: Req,
): Promise<void> {
  // --- memory per subject after 1,000 requests ---
  await client.flushall();
  const mem = async (keys: string[]): Promise<number> => {
    let total = 0;
    for (const k of keys) total += Number((await client.memory('USAGE', k)) ?? 0);
    return total;
  };
  const memRows: string[][] = [];
  const measure = async (name: string, keys: string[], op: () => Promise<unknown>) => {
    const sizes: number[] = [];
    for (let i = 1; i <= 1_000; i++) {
      await op();
      if (i === 10 || i === 1_000) sizes.push(await mem(keys));
    }
    memRows.push([name, fmt(sizes[0]!), fmt(sizes[1]!)]);
  };
  await measure('rate-limiter-flexible (1 limit)', ['rlf:m-rlf'], () => rlf.consume('m-rlf'));
  await measure('seed port (6 limits)', seed.keys('m-seed'), async () => {
    if ((await seed.check('m-seed', 700)).allowed) await seed.record('m-seed', 700);
  });
  // Realistic limits here (with the huge ones above a bucket drains within a millisecond and
  // its key expires at once, which would measure nothing).
  const real = new RateLimiter({
    store,
    tiers: {
      t: {
        requestsPerMinute: 5_000,
        requestsPerHour: 10_000,
        requestsPerDay: 50_000,
        tokensPerMinute: 5_000_000,
        tokensPerHour: 10_000_000,
        tokensPerDay: 50_000_000,
        costPerHourMicroUsd: 100_000_000,
        costPerDayMicroUsd: 500_000_000,
        concurrent: 10,
      },
    },
    commandTimeoutMs: 5_000,
  });
  await measure('llmsec, all 9 dims (acquire + settle)', [rlKey('m-us'), leaseKey('m-us')], async () => {
    const r = await real.acquire(req('m-us'));
    if (!r.allowed) throw new Error(`memory run refused: ${r.reason}`);
    if (r.degraded) throw new Error('memory run decided by the fallback store (Redis timed out)');
    await real.settle(r.lease!, { tokens: 650, costMicroUsd: 1_950 });
  });
  const ttl = await client.pttl(rlKey('m-us'));
  memRows.push(['  (llmsec key TTL after the run, ms)', '', fmt(ttl)]);
  printTable(
    'Redis memory per subject (MEMORY USAGE, bytes, all keys of the subject)',
    ['', 'after 10 requests', 'after 1,000 requests'],
    memRows,
  );

  // --- correctness under concurrency: 200 concurrent requests against a limit of 20 ---
  const seed20 = new SeedRateLimiter(client, { ...SEED_HUGE, rph: 20 });
  const seedAdmitted = (
    await Promise.all(
      Array.from({ length: 200 }, async () => {
        const r = await seed20.check('race-seed', 10);
        if (r.allowed) await seed20.record('race-seed', 10);
        return r.allowed;
      }),
    )
  ).filter(Boolean).length;
  const ours20 = new RateLimiter({ store, tiers: { t: { requestsPerHour: 20 } }, commandTimeoutMs: 5_000 });
  const ours = await Promise.all(
    Array.from({ length: 200 }, () => ours20.acquire({ subject: 'race-us', estimatedTokens: 10 })),
  );
  if (ours.some((r) => r.degraded))
    throw new Error('race check decided by the fallback store (Redis timed out)');
  const oursAdmitted = ours.filter((r) => r.allowed).length;
  printTable(
    '200 concurrent requests, limit 20 per hour',
    ['', 'admitted'],
    [
      ['seed port', String(seedAdmitted)],
      ['llmsec', String(oursAdmitted)],
    ],
  );
}

/** a / b; 'n/a' when either cell had no round without degraded decisions. */
function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined) return 'n/a';
  return `${(a / b).toFixed(2)}x`;
}

function printTable(title: string, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ') + ' |';
  console.log(`### ${title}\n`);
  console.log(line(header));
  console.log(
    '|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|',
  );
  for (const r of rows) console.log(line(r));
  console.log('');
}
