// Issue 13, sixth round: the inline-lease prototype (inline-lease-proto.ts) over the network,
// batched as RedisStore coalesces (32 calls per EVALSHA of the batched variant, two batches
// in flight: 64 calls, over 10,000 rotating subjects, fresh lease ids), against the same
// scripts with the lease set and with no lease at all (the bound of any lease design), and
// the raw EVALSHA ceiling (one `return 1` per call, 64 in flight), rounds interleaved (the
// first a warm-up), medians. Redis CPU per call from /proc (utime + stime of redis-server),
// so the extra key and argument's dispatch is in it; Node's CPU here is this loop's, not the
// limiter's, and is printed only for completeness. Linux only.
//   npx node --conditions=@llmsec/source bench/ratelimit/inline-lease-e2e.ts
// BENCH_SECONDS (default 2) per cell, BENCH_ROUNDS (default 5).
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { startRedis } from '../../test/support/redis.ts';
import { batchedLua, splitBatchReply } from '../../packages/ratelimit/src/redis-lua-batch.ts';
import { checkPrototypes, scripts, type Layout } from './inline-lease-proto.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCH = 32;
const IN_FLIGHT = 2;
const SUBJECTS = 10_000;

const redis = await startRedis();
const client = new Redis(redis.url);
try {
  await checkPrototypes(client);
  await client.flushall();
  const pid = Number(/process_id:(\d+)/.exec(await client.info('server'))![1]);
  const redisCpuUs = (): number => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 1e4; // utime + stime, 100 ticks per second
  };
  const ceilingSha = (await client.script('LOAD', 'return 1')) as string;

  /** Keys and arguments of one call, as RedisStore sends them for each layout. */
  const shape = (layout: Layout, s: string, id: number) => {
    const rl = `llmsec:{${s}}:rl`;
    // The set layout's lease id is 32 hex characters; the inline ones send a 53-bit tag.
    const hex = id.toString(16).padStart(32, '0');
    const tag = String(2 ** 52 + ((id * 2654435761) % 2 ** 52));
    if (layout === 'set')
      return {
        keys: [rl, `llmsec:{${s}}:lease`],
        acquire: [hex, '700', '2100'],
        settle: [hex, '0', '-50', '-150'],
      };
    if (layout === 'none') return { keys: [rl], acquire: ['700', '2100'], settle: ['0', '-50', '-150'] };
    return { keys: [rl], acquire: [tag, '700', '2100'], settle: [tag, '0', '-50', '-150'] };
  };
  /** SHA of the batched variant of `layout`'s acquire or settle (generated and loaded once). */
  const loaded = new Map<string, string>();
  const load = async (layout: Layout, which: 'acquire' | 'settle'): Promise<string> => {
    const key = `${layout} ${which}`;
    let sha = loaded.get(key);
    if (sha === undefined) {
      const c = shape(layout, 's', 1);
      const lua = batchedLua(scripts[layout][which], c.keys.length, c[which].length);
      sha = (await client.script('LOAD', lua)) as string;
      loaded.set(key, sha);
    }
    return sha;
  };
  let counter = 0;
  /** One batch of BATCH acquires (and, for a pair, the settles of their leases after them). */
  const batchOp = (layout: Layout, pair: boolean) => async (): Promise<number> => {
    const calls = Array.from({ length: BATCH }, () => {
      const id = ++counter;
      return shape(layout, `b-${id % SUBJECTS}`, id);
    });
    const keysPer = calls[0]!.keys.length;
    const acquire = await load(layout, 'acquire');
    const send = async (sha: string, args: (c: (typeof calls)[0]) => string[]): Promise<void> => {
      const reply = (await client.callBuffer(
        'EVALSHA',
        sha,
        String(BATCH * keysPer),
        ...calls.flatMap((c) => c.keys),
        ...calls.flatMap(args),
      )) as Buffer;
      for (const part of splitBatchReply(reply, BATCH)) if (!part.ok) throw new Error(part.message);
    };
    await send(acquire, (c) => c.acquire);
    if (pair) await send(await load(layout, 'settle'), (c) => c.settle);
    return BATCH;
  };
  const rows: [string, () => Promise<number>, number][] = [
    [
      'raw EVALSHA `return 1` (ceiling), one per call',
      async () => (await client.evalsha(ceilingSha, 0), 1),
      64,
    ],
    ['acquire, 8 windowed dims, no lease (bound)', batchOp('none', false), IN_FLIGHT],
    ['acquire, all 9, leases left open, lease set', batchOp('set', false), IN_FLIGHT],
    ['acquire, all 9, leases left open, inline', batchOp('inline', false), IN_FLIGHT],
    ['acquire, all 9, leases left open, inline + bounds', batchOp('header', false), IN_FLIGHT],
    ['acquire + settle, 8 windowed dims, no lease (bound)', batchOp('none', true), IN_FLIGHT],
    ['acquire + settle, all 9, lease set', batchOp('set', true), IN_FLIGHT],
    ['acquire + settle, all 9, inline', batchOp('inline', true), IN_FLIGHT],
    ['acquire + settle, all 9, inline + bounds', batchOp('header', true), IN_FLIGHT],
  ];
  const seen = new Map<string, { redis: number[]; node: number[]; rate: number[] }>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, op, workers] of rows) {
      let done = 0;
      const r0 = redisCpuUs();
      const n0 = process.cpuUsage();
      const t0 = performance.now();
      const end = t0 + SECONDS * 1000;
      await Promise.all(
        Array.from({ length: workers }, async () => {
          while (performance.now() < end) {
            // Not `done += await op()`: that reads done before the await and loses the others' counts.
            const n = await op();
            done += n;
          }
        }),
      );
      const wall = (performance.now() - t0) / 1000;
      const node = process.cpuUsage(n0);
      const r = redisCpuUs() - r0;
      await client.flushall();
      if (round === 0) continue; // warm-up
      const e = seen.get(name) ?? { redis: [], node: [], rate: [] };
      seen.set(name, e);
      e.redis.push(r / done);
      e.node.push((node.user + node.system) / done);
      e.rate.push(done / wall);
    }
  }
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const ceiling = median(seen.get(rows[0]![0])!.redis);
  console.log(`median of ${ROUNDS - 1} interleaved rounds, 10,000 subjects, load ${load1}\n`);
  console.log('| row | calls/s | redis µs/call | redis: ceiling / this | node µs/call (this loop) |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [name] of rows) {
    const e = seen.get(name)!;
    console.log(
      `| ${name} | ${Math.round(median(e.rate))} | ${median(e.redis).toFixed(2)} | ${(ceiling / median(e.redis)).toFixed(2)}x | ${median(e.node).toFixed(2)} |`,
    );
  }
} finally {
  client.disconnect();
  await redis.stop();
}
