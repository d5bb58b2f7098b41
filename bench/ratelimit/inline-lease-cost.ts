// Issue 13, sixth round: Redis CPU per call, in-script (one EVAL loop, no network, no client;
// BENCH_ROUNDS rounds, default 21, rows interleaved, database flushed between; Linux: the
// median of the main thread's CPU from /proc less a control EVAL without the calls, and the
// best wall time by Redis's TIME), of leases kept inside the state string (the prototype of
// inline-lease-proto.ts, both layouts) against the lease set the scripts use. Rows: acquire with leases left open (as lease-cost.ts: calls
// rotate over BENCH_SUBJECTS subjects with fresh ids), and acquire + settle with N other leases
// of the subject open (N = 0, 1, 8, 32, 64: the cost per open lease); the eight windowed
// dimensions alone (acquire, and acquire + settle) are the bound of any lease design.
//   npx node --conditions=@llmsec/source bench/ratelimit/inline-lease-cost.ts
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { startRedis } from '../../test/support/redis.ts';
import { callArgs, checkPrototypes, scripts, type Layout } from './inline-lease-proto.ts';

const REPS = Number(process.env.BENCH_REPS ?? 1_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const SUBJECTS = Number(process.env.BENCH_SUBJECTS ?? 50);
const functions = (layout: Layout): string => `local function acquire(KEYS, ARGV)
${scripts[layout].acquire}
end
local function settle(KEYS, ARGV)
${scripts[layout].settle}
end`;

/** One EVAL acquiring `open` leases for each subject of loop `k` (untimed; ids 1..open * SUBJECTS). */
function preload(layout: Layout, open: number, k: number): string {
  const a = callArgs(layout);
  return `${functions(layout)}
local id = 0
for sub = 0, ${SUBJECTS - 1} do
  local s = 'llmsec:{r${k}-' .. sub .. '}'
  for j = 1, ${open} do id = id + 1; acquire(${a.keys}, ${a.acquire}) end
end
return 1`;
}

/**
 * One EVAL of REPS timed calls over the subjects of loop `k` (fresh ids after the preloaded
 * ones), each an acquire (left open) or an acquire followed by the settle of its own lease.
 * `timed` false: the same EVAL without the calls (the control whose CPU is subtracted).
 */
function loop(layout: Layout, pair: boolean, open: number, k: number, timed = true): string {
  const a = callArgs(layout);
  return `${functions(layout)}
local id = ${open * SUBJECTS}
local K, A, S = {}, {}, {}
for rep = 1, ${REPS} do
  local s = 'llmsec:{r${k}-' .. (rep % ${SUBJECTS}) .. '}'
  id = id + 1
  K[rep] = ${a.keys}; A[rep] = ${a.acquire}; S[rep] = ${a.settle}
end
local t0 = redis.call('TIME')
for rep = 1, ${timed ? REPS : 0} do
  acquire(K[rep], A[rep])
  ${pair ? 'settle(K[rep], S[rep])' : ''}
end
local t1 = redis.call('TIME')
return tostring(((t1[1] - t0[1]) * 1e6 + (t1[2] - t0[2])) / ${REPS})`;
}

const cases: [string, Layout, boolean, number][] = [
  ['acquire, 8 windowed dims, no lease (bound)', 'none', false, 0],
  ['acquire, all 9, leases left open, lease set', 'set', false, 0],
  ['acquire, all 9, leases left open, inline', 'inline', false, 0],
  ['acquire, all 9, leases left open, inline + bounds', 'header', false, 0],
  ['acquire + settle, 8 windowed dims, no lease (bound)', 'none', true, 0],
];
for (const open of [0, 1, 8, 32, 64]) {
  cases.push([`acquire + settle, all 9, ${open} other open, lease set`, 'set', true, open]);
  cases.push([`acquire + settle, all 9, ${open} other open, inline`, 'inline', true, open]);
  cases.push([`acquire + settle, all 9, ${open} other open, inline + bounds`, 'header', true, open]);
}

const redis = await startRedis();
const client = new Redis(redis.url);
try {
  await checkPrototypes(client);

  // Redis's main thread's CPU time (ns, /proc/<pid>/schedstat): unlike the script's TIME
  // readings, not inflated when other processes take the core mid-loop.
  const pid = Number(/process_id:(\d+)/.exec(await client.info('server'))![1]);
  const cpuNs = (): number => Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
  const cpuOf = async (lua: string): Promise<{ cpu: number; wall: number }> => {
    const c0 = cpuNs();
    const wall = Number(await client.eval(lua, 0));
    return { cpu: cpuNs() - c0, wall };
  };
  const seen = new Map<string, { cpu: number[]; wall: number[] }>();
  let k = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, layout, pair, open] of cases) {
      k++;
      await client.eval(preload(layout, open, k), 0);
      const control = await cpuOf(loop(layout, pair, open, k, false));
      const run = await cpuOf(loop(layout, pair, open, k));
      await client.flushall();
      const e = seen.get(name) ?? { cpu: [], wall: [] };
      seen.set(name, e);
      e.cpu.push((run.cpu - control.cpu) / REPS / 1000);
      e.wall.push(run.wall);
    }
  }
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(
    `### Redis per call inside the script (µs; ${REPS} calls over ${SUBJECTS} subjects per loop, CPU: median of ${ROUNDS}, wall: best of ${ROUNDS}; load ${load})\n`,
  );
  console.log("CPU: the main thread's, less the same EVAL without the calls; wall: TIME around the calls.\n");
  const w = Math.max(...cases.map(([n]) => n.length));
  console.log(`| ${'script'.padEnd(w)} | CPU µs | wall µs |`);
  console.log(`|${'-'.repeat(w + 2)}|-------:|--------:|`);
  for (const [name] of cases) {
    const e = seen.get(name)!;
    console.log(
      `| ${name.padEnd(w)} | ${median(e.cpu).toFixed(2).padStart(6)} | ${Math.min(...e.wall)
        .toFixed(2)
        .padStart(7)} |`,
    );
  }
} finally {
  client.disconnect();
  await redis.stop();
}
