// Issue 13, seventh round: where an acquire's and a settle's Redis time goes, in-script (one EVAL
// loop, no network, no client), as the end-to-end benches load Redis: calls rotate over
// BENCH_SUBJECTS subjects (default 10,000, as run.ts) whose keys are built before the clock
// starts. Rows: what one redis.call costs by itself (PING: the fixed cost of any command from
// Lua), each command the scripts send on the keys they send it to, the state's unpack and pack,
// and the straight-line scripts RedisStore runs (redis-lua-single.ts) for the four end-to-end
// rows (acquire with the eight windows, with all nine and leases left open, acquire + settle
// with and without a concurrency limit), so that a script's time can be split into its
// commands and its Lua; and the lease's alternatives (a hash of lease ids, a counter with a
// key per lease) in the pair's pattern. Each row: µs per call by Redis's TIME around the
// timed loop (keys built and set up before it), less an empty loop's; best of BENCH_ROUNDS
// (default 41) loops of BENCH_REPS calls (default 300), rows interleaved, the database flushed
// between loops. Best of short loops, not a median: another process taking the core mid-loop
// only adds time, and a loop of about a millisecond is often not preempted at all (the
// main thread's CPU from /proc schedstat was tried: the set-up inside the same EVAL made its
// differences noisier). The EVALSHA dispatch and Redis's network work come on top (RedisStore
// batches 32 calls per EVALSHA: about 1 µs of Redis a call, 0.2-0.3 of it the lease key and id).
//   npx node --conditions=@llmsec/source bench/ratelimit/call-cost.ts
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { startRedis } from '../../test/support/redis.ts';
import { singleAcquireLua, singleSettleLua } from '../../packages/ratelimit/src/redis-lua-single.ts';

const REPS = Number(process.env.BENCH_REPS ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 41);
const SUBJECTS = Number(process.env.BENCH_SUBJECTS ?? 10_000);
const HUGE = 1e12;
// warningAt, throttledAt, blockedAt, bannedAt, halfLifeMs, blockMs, throttleFactor, refusalWeight, banTtlMs
const ENF = [5, 10, 20, 50, 600_000, 60_000, 0.5, 1, 86_400_000];
const WINDOWED = [HUGE, HUGE, HUGE, HUGE, HUGE, HUGE, HUGE, HUGE];
const TTL = 120_000;

const acquire8 = singleAcquireLua([...ENF, TTL, ...WINDOWED, 0], TTL);
// The benches' limits are out of reach, so a state's TTL rounds up to 1 ms and nearly every
// acquire finds none; with 100,000 requests a day (never reached here) each request keeps the
// state 864 ms longer, as real limits do: GET returns it and SET overwrites it.
const acquire8Kept = singleAcquireLua([...ENF, TTL, HUGE, HUGE, 100_000, ...WINDOWED.slice(3), 0], TTL);
const acquire9 = singleAcquireLua([...ENF, TTL, ...WINDOWED, 1_000_000], TTL);
const settle8 = singleSettleLua([...ENF, 1, ...WINDOWED, 0]);
const settle9 = singleSettleLua([...ENF, 1, ...WINDOWED, 1_000_000]);
const STATE = `struct.pack('<ddddddddddddd', 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0)`;

/**
 * A row: `setup` runs once per subject before the clock (keys rl, lease and the lease id in
 * locals r, l, id), `body` is timed per call with the same locals. Scripts are wrapped as
 * functions of (KEYS, ARGV) exactly as RedisStore calls them.
 */
interface Row {
  name: string;
  setup?: string;
  body: string;
  /** redis.call()s the body makes per call (for the per-call split). */
  calls: number;
}

const fn = (name: string, lua: string): string => `local function ${name}(KEYS, ARGV)\n${lua}\nend`;
/**
 * The same scripts with redis.call answered by a Lua function (TIME a fixed clock, GET no
 * state, ZCARD 0, the rest nothing): the scripts' own Lua work without Redis's commands.
 */
const STUB = `local redis = { call = function(c) if c == 'TIME' then return TM elseif c == 'ZCARD' then return 0 end return false end }`;
const SCRIPTS = [
  fn('acquire8', acquire8),
  fn('acquire8kept', acquire8Kept),
  fn('acquire9', acquire9),
  fn('settle8', settle8),
  fn('settle9', settle9),
  `local TM = { '1764900000', '123456' }
local lua_acquire8, lua_acquire9, lua_settle8, lua_settle9
do
${STUB}`,
  ...[
    ['lua_acquire8', acquire8],
    ['lua_acquire9', acquire9],
    ['lua_settle8', settle8],
    ['lua_settle9', settle9],
  ].map(([name, lua]) => `${name} = function(KEYS, ARGV)\n${lua}\nend`),
  'end',
].join('\n');

const rows: Row[] = [
  { name: 'empty loop (subtracted from every row)', body: '', calls: 0 },
  { name: 'PING (the fixed cost of a redis.call)', body: `redis.call('PING')`, calls: 1 },
  { name: 'TIME (once per batch of up to 32)', body: `redis.call('TIME')`, calls: 1 },
  {
    name: 'GET of a 104-byte state',
    setup: `redis.call('SET', r, ${STATE}, 'PX', 600000)`,
    body: `redis.call('GET', r)`,
    calls: 1,
  },
  {
    name: 'SET of a 104-byte state, PX a Lua number (as the scripts)',
    body: `redis.call('SET', r, st, 'PX', 600000 + rep)`,
    calls: 1,
  },
  {
    name: 'SET of a 104-byte state, PX a string',
    body: `redis.call('SET', r, st, 'PX', '600000')`,
    calls: 1,
  },
  {
    name: 'SET of a 104-byte state, PXAT a Lua number',
    setup: `redis.call('SET', r, st, 'PX', 600000)`,
    body: `redis.call('SET', r, st, 'PXAT', 1864900000000 + rep)`,
    calls: 1,
  },
  {
    name: 'SET of a 104-byte state, PX a Lua number, key present',
    setup: `redis.call('SET', r, st, 'PX', 600000)`,
    body: `redis.call('SET', r, st, 'PX', 600000 + rep)`,
    calls: 1,
  },
  {
    name: 'SET of a 104-byte state, no TTL, key present',
    setup: `redis.call('SET', r, st)`,
    body: `redis.call('SET', r, st)`,
    calls: 1,
  },
  {
    name: 'SET of a 104-byte state, KEEPTTL',
    setup: `redis.call('SET', r, st, 'PX', 600000)`,
    body: `redis.call('SET', r, st, 'KEEPTTL')`,
    calls: 1,
  },
  {
    name: 'a Lua number as a redis.call argument (PING n less PING)',
    body: `redis.call('PING', 600000 + rep)`,
    calls: 1,
  },
  {
    name: 'math.ceil, math.floor, tonumber x2',
    body: `local x = math.ceil(rep + 0.5) + math.floor(rep + 0.5) + tonumber('700') + tonumber('2100')`,
    calls: 0,
  },
  {
    name: 'struct.unpack + struct.pack of 13 doubles',
    body: `struct.pack('<ddddddddddddd', struct.unpack('<ddddddddddddd', st))`,
    calls: 0,
  },
  { name: 'ZCARD of a missing key', body: `redis.call('ZCARD', l)`, calls: 1 },
  {
    name: 'ZCARD of a set of 8',
    setup: `for j = 1, 8 do redis.call('ZADD', l, j, id .. j) end`,
    body: `redis.call('ZCARD', l)`,
    calls: 1,
  },
  {
    name: 'lease of a pair: ZADD + PEXPIRE (new key), then ZREM (key deleted)',
    body: `redis.call('ZADD', l, 1e13, id); redis.call('PEXPIRE', l, '120000'); redis.call('ZREM', l, id)`,
    calls: 3,
  },
  {
    name: 'the pair with a hash of lease ids: HLEN, HSET + PEXPIRE, HDEL',
    body: `redis.call('HLEN', l); redis.call('HSET', l, id, 1e13); redis.call('PEXPIRE', l, '120000'); redis.call('HDEL', l, id)`,
    calls: 4,
  },
  {
    name: 'the pair with a counter and a key per lease: INCR, SET PX, DECR, DEL',
    body: `redis.call('INCR', l); redis.call('SET', l .. id, 1, 'PX', '120000'); redis.call('DECR', l); redis.call('DEL', l .. id)`,
    calls: 4,
  },
  {
    name: 'lease left open: ZCARD + ZADD (set of 8 and growing)',
    setup: `for j = 1, 8 do redis.call('ZADD', l, j, id .. j) end`,
    body: `redis.call('ZCARD', l); redis.call('ZADD', l, 1e13, id .. rep)`,
    calls: 2,
  },
  { name: 'script: acquire, 8 windowed dims', body: `acquire8({ r }, { '700', '2100' })`, calls: 2 },
  {
    name: 'script: acquire, 8 windowed dims, the state kept (100,000 requests a day)',
    setup: `acquire8kept({ r }, { '700', '2100' })`,
    body: `acquire8kept({ r }, { '700', '2100' })`,
    calls: 2,
  },
  {
    name: 'script: acquire, all 9 (leases left open, 8 per subject before)',
    setup: `for j = 1, 8 do acquire9({ r, l }, { id .. j, '700', '2100' }) end`,
    body: `acquire9({ r, l }, { id .. rep, '700', '2100' })`,
    calls: 4,
  },
  {
    name: 'script: acquire + settle, 8 windowed dims (no lease)',
    body: `acquire8({ r }, { '700', '2100' }); settle8({ r }, { '0', '-50', '-150' })`,
    calls: 4,
  },
  {
    name: 'Lua only (redis.call stubbed): acquire, 8 windowed dims',
    body: `lua_acquire8({ r }, { '700', '2100' })`,
    calls: 0,
  },
  {
    name: 'Lua only (redis.call stubbed): acquire + settle, all 9',
    body: `lua_acquire9({ r, l }, { id, '700', '2100' }); lua_settle9({ r, l }, { id, '0', '-50', '-150' })`,
    calls: 0,
  },
  {
    name: 'script: acquire + settle, all 9',
    body: `acquire9({ r, l }, { id, '700', '2100' }); settle9({ r, l }, { id, '0', '-50', '-150' })`,
    calls: 8,
  },
];

/** One EVAL: keys of loop `k` built, set up, then REPS calls of `row` timed by Redis's TIME. */
const loop = (row: Row, k: number): string => `${SCRIPTS}
local R, L, I = {}, {}, {}
for i = 1, ${SUBJECTS} do
  local s = 'llmsec:{c${k}-' .. i .. '}'
  R[i] = s .. ':rl'; L[i] = s .. ':lease'; I[i] = string.format('%032x', ${k} * 1e6 + i)
end
local st = ${STATE}
for i = 1, ${SUBJECTS} do
  local r, l, id = R[i], L[i], I[i]
  ${row.setup ?? ''}
end
local t0 = redis.call('TIME')
for rep = 1, ${REPS} do
  local i = rep % ${SUBJECTS} + 1
  local r, l, id = R[i], L[i], I[i]
  ${row.body}
end
local t1 = redis.call('TIME')
return tostring(((t1[1] - t0[1]) * 1e6 + (t1[2] - t0[2])) / ${REPS})`;

const redis = await startRedis();
const client = new Redis(redis.url);
try {
  const best = new Map<string, number>();
  let k = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const row of rows) {
      const us = Number(await client.eval(loop(row, k++), 0));
      best.set(row.name, Math.min(best.get(row.name) ?? Infinity, us));
      await client.flushall();
    }
  }
  const empty = best.get(rows[0]!.name)!;
  const ping = best.get(rows[1]!.name)! - empty;
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(
    `### Redis per call inside one EVAL (µs, best of ${ROUNDS}, less the empty loop's ${empty.toFixed(2)}; ${REPS} calls over ${SUBJECTS} subjects; load ${load})\n`,
  );
  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(`| ${'row'.padEnd(w)} |    µs | redis.calls | of it at PING's cost |`);
  console.log(`|${'-'.repeat(w + 2)}|------:|------------:|---------------------:|`);
  for (const row of rows.slice(1)) {
    const us = best.get(row.name)! - empty;
    console.log(
      `| ${row.name.padEnd(w)} | ${us.toFixed(2).padStart(5)} | ${String(row.calls).padStart(11)} | ${(row.calls * ping).toFixed(2).padStart(20)} |`,
    );
  }
} finally {
  client.disconnect();
  await redis.stop();
}
