// Issue 13, sixth round: Redis CPU per call, in-script (one EVAL loop, no network, no client;
// best of BENCH_ROUNDS, default 21, rows interleaved, database flushed between), of leases kept
// inside the state string (the prototype of inline-lease-proto.ts, both layouts) against the
// lease set the scripts use. Rows: acquire with leases left open (as lease-cost.ts: calls
// rotate over BENCH_SUBJECTS subjects with fresh ids), and acquire + settle with N other leases
// of the subject open (N = 0, 1, 8, 32, 64: the cost per open lease); the eight windowed
// dimensions alone (acquire, and acquire + settle) are the bound of any lease design.
//   npx node --conditions=@llmsec/source bench/ratelimit/inline-lease-cost.ts
import { Redis } from 'ioredis';
import { startRedis } from '../../test/support/redis.ts';
import { callArgs, checkPrototypes, scripts, type Layout } from './inline-lease-proto.ts';

const REPS = Number(process.env.BENCH_REPS ?? 1_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const SUBJECTS = Number(process.env.BENCH_SUBJECTS ?? 50);
/**
 * One EVAL: `open` leases per subject acquired first (untimed), then REPS timed calls over the
 * subjects, each an acquire (left open) or an acquire followed by the settle of its own lease.
 */
function loop(layout: Layout, pair: boolean, open: number, k: number): string {
  const a = callArgs(layout);
  return `local function acquire(KEYS, ARGV)
${scripts[layout].acquire}
end
local function settle(KEYS, ARGV)
${scripts[layout].settle}
end
local id = 0
for sub = 0, ${SUBJECTS - 1} do
  local s = 'llmsec:{r${k}-' .. sub .. '}'
  for j = 1, ${open} do id = id + 1; acquire(${a.keys}, ${a.acquire}) end
end
local K, A, S = {}, {}, {}
for rep = 1, ${REPS} do
  local s = 'llmsec:{r${k}-' .. (rep % ${SUBJECTS}) .. '}'
  id = id + 1
  K[rep] = ${a.keys}; A[rep] = ${a.acquire}; S[rep] = ${a.settle}
end
local t0 = redis.call('TIME')
for rep = 1, ${REPS} do
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

  const best = new Map<string, number>();
  let k = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, layout, pair, open] of cases) {
      const us = Number(await client.eval(loop(layout, pair, open, k++), 0));
      best.set(name, Math.min(best.get(name) ?? Infinity, us));
      await client.flushall();
    }
  }
  console.log(
    `### Redis CPU per call inside the script (µs; ${REPS} calls over ${SUBJECTS} subjects per loop, best of ${ROUNDS})\n`,
  );
  const w = Math.max(...cases.map(([n]) => n.length));
  console.log(`| ${'script'.padEnd(w)} |    µs |`);
  console.log(`|${'-'.repeat(w + 2)}|------:|`);
  for (const [name] of cases)
    console.log(`| ${name.padEnd(w)} | ${best.get(name)!.toFixed(2).padStart(5)} |`);
} finally {
  client.disconnect();
  await redis.stop();
}
