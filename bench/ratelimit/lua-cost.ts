// Redis CPU per script call, without the network and the client: each script body runs BENCH_REPS
// (default 2,000) times inside one EVAL (wrapped in a function, real keys, real commands) and Redis's own TIME
// around the loop gives microseconds per run; best of BENCH_ROUNDS (default 7). The per-call
// EVALSHA dispatch (about 2 µs, `return 1` through EVALSHA) comes on top of every figure.
// Run: `./node_modules/.bin/node bench/ratelimit/lua-cost.ts`.
import { Redis } from 'ioredis';
import { startRedis } from '../../test/support/redis.ts';
import {
  ACQUIRE_LUA,
  bakedAcquireLua,
  bakedSettleLua,
  SETTLE_LUA,
} from '../../packages/ratelimit/src/redis-lua.ts';
import {
  pairAcquireLua,
  singleAcquireLua,
  singleSettleLua,
} from '../../packages/ratelimit/src/redis-lua-single.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
// BENCH_REPS: runs per timed loop. On a loaded machine a shorter loop (200: about 1-2 ms) is
// less often preempted, so its best of many rounds is closer to the unloaded cost.
const REPS = Number(process.env.BENCH_REPS ?? 2_000);
const HUGE = 1e12;
// Enforcement parameters in RedisStore's packed order: warningAt, throttledAt, blockedAt,
// bannedAt, halfLifeMs, blockMs, throttleFactor, refusalWeight, banTtlMs.
const ENF = [5, 10, 20, 50, 600_000, 60_000, 0.5, 1, 86_400_000];
const WINDOWED = [HUGE, HUGE, HUGE, HUGE, HUGE, HUGE, HUGE, HUGE];
const packed = (v: number[]): Buffer => {
  const b = Buffer.alloc(v.length * 8);
  v.forEach((x, i) => b.writeDoubleLE(x, i * 8));
  return b;
};

// rate-limiter-flexible 11's RateLimiterRedis script (incrTtlLuaScript), ARGV inlined.
const RLF = `redis.call('set', KEYS[1], 0, 'EX', '60', 'NX')
local consumed = redis.call('incrby', KEYS[1], '1')
local ttl = redis.call('pttl', KEYS[1])
if ttl == -1 then
  redis.call('expire', KEYS[1], '60')
  ttl = 1000 * 60
end
return {consumed, ttl}`;
const FLOOR = `local tm = redis.call('TIME')
local v = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], '${'x'.repeat(104)}', 'PX', 100000)
return 1`;

const cases: [string, string, (string | number | Buffer)[]][] = [
  ['rate-limiter-flexible consume() script', RLF, []],
  ['floor of our design: TIME + GET + SET PX (104 B)', FLOOR, []],
  [
    'llmsec acquire, 8 windowed dims',
    ACQUIRE_LUA,
    ['lease-0123456789abcdef', 700, 2_100, packed([...ENF, 300_000, ...WINDOWED, 0]), 300_000],
  ],
  [
    'llmsec acquire, 8 dims + concurrency',
    ACQUIRE_LUA,
    ['lease-0123456789abcdef', 700, 2_100, packed([...ENF, 300_000, ...WINDOWED, 1_000_000]), 300_000],
  ],
  [
    'llmsec acquire then settle (one lease), 8 dims + concurrency',
    `local A = ARGV
local function acquire()
local ARGV = { A[1], A[2], A[3], A[4], A[9] }
${ACQUIRE_LUA}
end
local function settle()
local ARGV = { A[1], A[5], A[6], A[7], A[8] }
${SETTLE_LUA}
end
acquire()
settle()`,
    [
      'lease-0123456789abcdef',
      700,
      2_100,
      packed([...ENF, 300_000, ...WINDOWED, 1_000_000]),
      0,
      -50,
      -150,
      packed([...ENF, 1, ...WINDOWED, 1_000_000]),
      300_000,
    ],
  ],
  [
    'llmsec settle (refund), 8 dims + concurrency',
    SETTLE_LUA,
    ['lease-0123456789abcdef', 0, -50, -150, packed([...ENF, 1, ...WINDOWED, 1_000_000])],
  ],
  // What RedisStore runs for the tier combinations it has seen (up to 64): parameters baked in.
  [
    'llmsec acquire, 8 windowed dims, baked parameters',
    bakedAcquireLua([...ENF, 300_000, ...WINDOWED, 0], 300_000),
    ['lease-0123456789abcdef', 700, 2_100],
  ],
  [
    'llmsec acquire then settle, 8 dims + concurrency, baked',
    `local A = ARGV
local function acquire()
local ARGV = { A[1], A[2], A[3] }
${bakedAcquireLua([...ENF, 300_000, ...WINDOWED, 1_000_000], 300_000)}
end
local function settle()
local ARGV = { A[1], A[4], A[5], A[6] }
${bakedSettleLua([...ENF, 1, ...WINDOWED, 1_000_000])}
end
acquire()
settle()`,
    ['lease-0123456789abcdef', 700, 2_100, 0, -50, -150],
  ],
  // What RedisStore runs for one subject since issue 13: straight-line, parameters as literals.
  [
    'llmsec acquire, 8 windowed dims, straight-line (one subject)',
    singleAcquireLua([...ENF, 300_000, ...WINDOWED, 0], 300_000),
    [700, 2_100], // no concurrency limit: RedisStore sends the amounts only (leanArgs)
  ],
  [
    'llmsec acquire, 8 dims + concurrency, straight-line',
    singleAcquireLua([...ENF, 300_000, ...WINDOWED, 1_000_000], 300_000),
    ['lease-0123456789abcdef', 700, 2_100],
  ],
  [
    'llmsec acquire then settle, 8 dims + concurrency, straight-line',
    `local A = ARGV
local function acquire()
local ARGV = { A[1], A[2], A[3] }
${singleAcquireLua([...ENF, 300_000, ...WINDOWED, 1_000_000], 300_000)}
end
local function settle()
local ARGV = { A[1], A[4], A[5], A[6] }
${singleSettleLua([...ENF, 1, ...WINDOWED, 1_000_000])}
end
acquire()
settle()`,
    ['lease-0123456789abcdef', 700, 2_100, 0, -50, -150],
  ],
  // Two subjects (user and secondary, e.g. client address), the second with requests only.
  [
    'llmsec acquire, two subjects (8 dims + 1), baked template',
    bakedAcquireLua([...ENF, 300_000, ...WINDOWED, 0, HUGE, 0, 0, 0, 0, 0, 0, 0, 0], 300_000),
    ['lease-0123456789abcdef', 700, 2_100],
  ],
  [
    'llmsec acquire, two subjects (8 dims + 1), straight-line',
    pairAcquireLua([...ENF, 300_000, ...WINDOWED, 0, HUGE, 0, 0, 0, 0, 0, 0, 0, 0], 300_000),
    ['lease-0123456789abcdef', 700, 2_100],
  ],
];

const wrap = (body: string): string =>
  `local function body()\n${body}\nend\nlocal t0 = redis.call('TIME')\nfor rep = 1, ${REPS} do body() end\n` +
  `local t1 = redis.call('TIME')\nreturn tostring(((t1[1] - t0[1]) * 1e6 + (t1[2] - t0[2])) / ${REPS})`;

const redis = await startRedis();
const client = new Redis(redis.url);
try {
  const best = new Map<string, number>();
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, [name, lua, argv]] of cases.entries()) {
      const keys = [`llmsec:{lc${r}-${k}}:rl`, `llmsec:{lc${r}-${k}}:lease`];
      // Two-subject scripts take the secondary's keys after the primary's (same slot here).
      if (name.includes('two subjects')) keys.push(`llmsec:{lc${r}-${k}}:rl2`, `llmsec:{lc${r}-${k}}:lease2`);
      const us = Number(await client.eval(wrap(lua), keys.length, ...keys, ...argv));
      best.set(name, Math.min(best.get(name) ?? Infinity, us));
    }
  }
  const w = Math.max(...cases.map(([n]) => n.length));
  console.log(`### Redis CPU per script run (µs, in-script loop of ${REPS}, best of ${ROUNDS})\n`);
  console.log(`| ${'script'.padEnd(w)} |    µs |`);
  console.log(`|${'-'.repeat(w + 2)}|------:|`);
  for (const [name] of cases)
    console.log(`| ${name.padEnd(w)} | ${best.get(name)!.toFixed(2).padStart(5)} |`);
} finally {
  client.disconnect();
  await redis.stop();
}
