// Redis CPU per acquire inside the script, the lease set as the benchmarks load it: calls
// rotate over BENCH_SUBJECTS subjects (default 50) with a fresh lease id each and leases left
// open (BENCH_REPS / BENCH_SUBJECTS per subject, 20 by default), so every set holds many
// leases; and an acquire then settle (the set empty again after each pair). One EVAL runs
// BENCH_REPS calls (keys and arguments prepared before the clock starts), timed by Redis's
// TIME; best of BENCH_ROUNDS (default 31), rows interleaved, the database flushed between.
// Rows: the eight windowed dimensions (no lease) and all nine, with the scripts of this tree
// and, with BENCH_OLD_SRC (an older packages/ratelimit/src/index.ts, see before-after.ts),
// those of that tree in the same run:
//   git archive <commit> packages/ratelimit/src | tar -x -C bench/ratelimit/.old
//   BENCH_OLD_SRC=bench/ratelimit/.old/packages/ratelimit/src/index.ts \
//     node --conditions=@llmsec/source bench/ratelimit/lease-cost.ts
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { startRedis } from '../../test/support/redis.ts';
import * as Current from '../../packages/ratelimit/src/redis-lua-single.ts';

type Scripts = Pick<typeof Current, 'singleAcquireLua' | 'singleSettleLua'>;
const REPS = Number(process.env.BENCH_REPS ?? 1_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 31);
const SUBJECTS = Number(process.env.BENCH_SUBJECTS ?? 50);
const HUGE = 1e12;
// warningAt, throttledAt, blockedAt, bannedAt, halfLifeMs, blockMs, throttleFactor, refusalWeight, banTtlMs
const ENF = [5, 10, 20, 50, 600_000, 60_000, 0.5, 1, 86_400_000];
const WINDOWED = [HUGE, HUGE, HUGE, HUGE, HUGE, HUGE, HUGE, HUGE];
const TTL = 120_000;

const oldSrc = process.env.BENCH_OLD_SRC;
const Old = oldSrc
  ? ((await import(pathToFileURL(resolve(oldSrc, '../redis-lua-single.ts')).href)) as Scripts)
  : undefined;

/** The acquire alone, and the acquire followed by the settle of its lease (tokens and cost refunded in part). */
function rows(label: string, s: Scripts): [string, string, boolean][] {
  const acquire = s.singleAcquireLua([...ENF, TTL, ...WINDOWED, 1_000_000], TTL);
  const settle = s.singleSettleLua([...ENF, 1, ...WINDOWED, 1_000_000]);
  const pair = `local A = ARGV
local function acquire()
local ARGV = { A[1], A[2], A[3] }
${acquire}
end
local function settle()
local ARGV = { A[1], '0', '-50', '-150' }
${settle}
end
acquire()
settle()`;
  return [
    [`acquire, all 9 dims (leases left open), ${label}`, acquire, true],
    [`acquire + settle, all 9 dims, ${label}`, pair, true],
  ];
}

const cases: [string, string, boolean][] = [
  ['acquire, 8 windowed dims', Current.singleAcquireLua([...ENF, TTL, ...WINDOWED, 0], TTL), false],
  ...(Old ? rows('before', Old) : []),
  ...rows(Old ? 'after' : 'this tree', Current),
];

const wrap = (body: string, lease: boolean, k: number): string => `local function body(KEYS, ARGV)
${body}
end
local K, A = {}, {}
for rep = 1, ${REPS} do
  local s = 'llmsec:{r${k}-' .. (rep % ${SUBJECTS}) .. '}'
  local id = string.format('%032x', rep)
  ${lease ? `K[rep] = { s .. ':rl', s .. ':lease' }; A[rep] = { id, '700', '2100' }` : `K[rep] = { s .. ':rl' }; A[rep] = { '700', '2100' }`}
end
local t0 = redis.call('TIME')
for rep = 1, ${REPS} do body(K[rep], A[rep]) end
local t1 = redis.call('TIME')
return tostring(((t1[1] - t0[1]) * 1e6 + (t1[2] - t0[2])) / ${REPS})`;

const redis = await startRedis();
const client = new Redis(redis.url);
try {
  const best = new Map<string, number>();
  let k = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, lua, lease] of cases) {
      const us = Number(await client.eval(wrap(lua, lease, k++), 0));
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
