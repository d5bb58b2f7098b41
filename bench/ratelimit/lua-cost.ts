// Redis CPU per script call, without the network and the client: each script body runs BENCH_REPS
// (default 2,000) times inside one EVAL (wrapped in a function, real keys, real commands) and Redis's own TIME
// around the loop gives microseconds per run; best of BENCH_ROUNDS (default 7). The per-call
// EVALSHA dispatch (about 2 µs, `return 1` through EVALSHA) comes on top of every figure.
// Rows marked "before" run the scripts of commit b739c17 (leases in a sorted set per subject,
// kept as a test fixture), the others the current ones (leases inside the state string).
// Run: `npm run bench:ratelimit:lua` (BENCH_REPS=200 BENCH_ROUNDS=41 on a loaded machine).
import { Redis } from 'ioredis';
import { startRedis } from '../../test/support/redis.ts';
import { bakedAcquireLua } from '../../packages/ratelimit/src/redis-lua.ts';
import {
  pairAcquireLua,
  singleAcquireLua,
  singleSettleLua,
} from '../../packages/ratelimit/src/redis-lua-single.ts';
// The scripts before the leases moved into the state string (sorted set per subject).
import * as legacy from '../../packages/ratelimit/test/fixtures/legacy/redis-lua-single.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
// BENCH_REPS: runs per timed loop. On a loaded machine a shorter loop (200: about 1-2 ms) is
// less often preempted, so its best of many rounds is closer to the unloaded cost.
const REPS = Number(process.env.BENCH_REPS ?? 2_000);
const HUGE = 1e12;
// Enforcement parameters in RedisStore's packed order: warningAt, throttledAt, blockedAt,
// bannedAt, halfLifeMs, blockMs, throttleFactor, refusalWeight, banTtlMs.
const ENF = [5, 10, 20, 50, 600_000, 60_000, 0.5, 1, 86_400_000];
const WINDOWED = [HUGE, HUGE, HUGE, HUGE, HUGE, HUGE, HUGE, HUGE];

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

// Per run: a fresh subject (`fresh`: the key names get the run's number, as with 10,000
// subjects whose keys come and go), or the same keys for every run (their state carries on).
type Case = [name: string, lua: string, argv: (string | number | Buffer)[], opts?: CaseOpts];
interface CaseOpts {
  fresh?: boolean;
  /** Leases held by others before the loop, far from expiring. */
  open?: number;
  /** 'legacy': rl, lease per subject (sorted-set leases); else rl per subject. */
  layout?: 'legacy';
  subjects?: 2;
}
const TAG = 4_503_599_627_370_495; // a lease tag as RedisStore sends it (leaseTag: a 53-bit number)
const C9 = [...ENF, 300_000, ...WINDOWED, 1_000_000];
const S9 = [...ENF, 1, ...WINDOWED, 1_000_000];
const acquireThenSettle = (acquire: string, settle: string): string => `local A = ARGV
local function acquire()
local ARGV = { A[1], A[2], A[3] }
${acquire}
end
local function settle()
local ARGV = { A[1], A[4], A[5], A[6] }
${settle}
end
acquire()
settle()`;
const PAIR = [...ENF, 300_000, ...WINDOWED, 0, HUGE, 0, 0, 0, 0, 0, 0, 0, 0];

const cases: Case[] = [
  ['rate-limiter-flexible consume() script', RLF, []],
  ['floor of our design: TIME + GET + SET PX (104 B)', FLOOR, []],
  [
    'acquire, 8 windowed dims (before: b739c17)',
    legacy.singleAcquireLua([...ENF, 300_000, ...WINDOWED, 0], 300_000),
    [700, 2_100],
    { fresh: true, layout: 'legacy' },
  ],
  [
    'acquire, 8 windowed dims',
    singleAcquireLua([...ENF, 300_000, ...WINDOWED, 0]),
    [700, 2_100],
    { fresh: true },
  ],
  [
    'acquire, all 9 dims (before: lease sorted set)',
    legacy.singleAcquireLua(C9, 300_000),
    [TAG, 700, 2_100],
    { fresh: true, layout: 'legacy' },
  ],
  ['acquire, all 9 dims (leases in the state)', singleAcquireLua(C9), [TAG, 700, 2_100], { fresh: true }],
  [
    'acquire + settle, 9 dims (before)',
    acquireThenSettle(legacy.singleAcquireLua(C9, 300_000), legacy.singleSettleLua(S9)),
    [TAG, 700, 2_100, 0, -50, -150],
    { layout: 'legacy' },
  ],
  [
    'acquire + settle, 9 dims',
    acquireThenSettle(singleAcquireLua(C9), singleSettleLua(S9)),
    [TAG, 700, 2_100, 0, -50, -150],
  ],
  [
    'acquire + settle, 9 dims, 3 other leases open (before)',
    acquireThenSettle(legacy.singleAcquireLua(C9, 300_000), legacy.singleSettleLua(S9)),
    [TAG, 700, 2_100, 0, -50, -150],
    { layout: 'legacy', open: 3 },
  ],
  [
    'acquire + settle, 9 dims, 3 other leases open',
    acquireThenSettle(singleAcquireLua(C9), singleSettleLua(S9)),
    [TAG, 700, 2_100, 0, -50, -150],
    { open: 3 },
  ],
  [
    'acquire + settle, 9 dims, 30 other leases open (before)',
    acquireThenSettle(legacy.singleAcquireLua(C9, 300_000), legacy.singleSettleLua(S9)),
    [TAG, 700, 2_100, 0, -50, -150],
    { layout: 'legacy', open: 30 },
  ],
  [
    'acquire + settle, 9 dims, 30 other leases open',
    acquireThenSettle(singleAcquireLua(C9), singleSettleLua(S9)),
    [TAG, 700, 2_100, 0, -50, -150],
    { open: 30 },
  ],
  [
    'acquire, two subjects (8 dims + 1) (before)',
    legacy.pairAcquireLua(PAIR, 300_000),
    [TAG, 700, 2_100],
    { fresh: true, layout: 'legacy', subjects: 2 },
  ],
  [
    'acquire, two subjects (8 dims + 1)',
    pairAcquireLua(PAIR),
    [TAG, 700, 2_100],
    { fresh: true, subjects: 2 },
  ],
  [
    'acquire, 8 dims + concurrency, general template (past 64 tiers)',
    bakedAcquireLua(C9),
    [TAG, 700, 2_100],
    { fresh: true },
  ],
];

/** Lua run before the timed loop: `open` leases of others on the run's subject. */
function setup(o: CaseOpts): string {
  if (!o.open) return '';
  if (o.layout === 'legacy')
    return `for j = 1, ${o.open} do redis.call('ZADD', KEYS[2], 1e15, 'other' .. j) end`;
  return `local r = ''
for j = 1, ${o.open} do r = r .. struct.pack('<dd', 1e15, j) end
redis.call('SET', KEYS[1], struct.pack('<d', 1/0) .. string.rep(struct.pack('<d', 0), 13) .. r)`;
}

// Each run calls the body with its own KEYS: the same keys, or fresh ones (suffixed with the run).
const wrap = (body: string, o: CaseOpts): string =>
  `${setup(o)}\nlocal K = KEYS\nlocal function body(KEYS)\n${body}\nend\n` +
  `local fresh = {}\nfor rep = 1, ${REPS} do fresh[rep] = {} for i = 1, #K do fresh[rep][i] = K[i] .. ${o.fresh ? 'rep' : "''"} end end\n` +
  `local t0 = redis.call('TIME')\nfor rep = 1, ${REPS} do body(fresh[rep]) end\n` +
  `local t1 = redis.call('TIME')\nreturn tostring(((t1[1] - t0[1]) * 1e6 + (t1[2] - t0[2])) / ${REPS})`;

const redis = await startRedis();
const client = new Redis(redis.url);
try {
  const best = new Map<string, number>();
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, [name, lua, argv, o = {}]] of cases.entries()) {
      const keys: string[] = [];
      // Two-subject scripts take the secondary's keys after the primary's (same slot here).
      for (let sub = 1; sub <= (o.subjects ?? 1); sub++) {
        keys.push(`llmsec:{lc${r}-${k}}:rl${sub}-`);
        if (o.layout === 'legacy') keys.push(`llmsec:{lc${r}-${k}}:lease${sub}-`);
      }
      const us = Number(await client.eval(wrap(lua, o), keys.length, ...keys, ...argv));
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
