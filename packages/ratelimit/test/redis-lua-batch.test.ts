// The batched scripts (redis-lua-batch.ts) against the straight-line scripts they batch, on a
// real Redis: the same N calls (random tiers, subjects repeated within a batch, random states,
// leases and amounts) run (a) as one batched script and (b) one script per call in the same
// order, each side in one EVAL with TIME answered by a fixed clock. Every part of the batched
// reply must equal the call's own reply, every command sent (SET bytes and TTL, ZADD, ...) must
// be the same, and so must the final state of every key.
import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import {
  BATCH_PRELUDE_END,
  batchedLua,
  batchedScript,
  CLOCK_PRELUDE,
  splitBatchReply,
} from '../src/redis-lua-batch.ts';
import { shaScript } from '../src/redis-script.ts';
import {
  leanArgs,
  pairAcquireLua,
  pairSettleLua,
  singleAcquireLua,
  singleSettleLua,
} from '../src/redis-lua-single.ts';
import { clockArgs, prng, randomTrial, type Trial } from './lua-trials.ts';

const db = useRedis();

/**
 * Wraps a script so that TIME answers ARGV[1] s + ARGV[2] µs and every other command is
 * logged with the side's key prefix (`{a-` / `{b-`) taken out; the script sees ARGV[3..].
 * PTTL (a banned subject's retry) answers on that frozen clock too, as Redis 7.2 on does
 * inside a script: the TTL a SET ... PX or PEXPIRE of this script gave the key (KEEPTTL keeps
 * it), else the server's answer (-1 for the trials' keys, set without a TTL). On the real
 * clock the two sides, run one after the other, would differ by the milliseconds between them.
 */
function clocked(inner: string): string {
  return `local R = redis
local sec, usec = ARGV[1], ARGV[2]
local log = {}
local ttls = {}
local function norm(x)
  if type(x) == 'number' then return string.format('%.17g', x) end
  return (string.gsub(x, '^llmsec:{[ab]%-', 'llmsec:{'))
end
local redis = { error_reply = R.error_reply, call = function(...)
  local c = { ... }
  if c[1] == 'TIME' then return { sec, usec } end
  local line = {}
  for i = 1, #c do line[#line + 1] = type(c[i]) .. ':' .. norm(c[i]) end
  log[#log + 1] = table.concat(line, ' ')
  if c[1] == 'PTTL' and ttls[c[2]] ~= nil then
    R.call(...)
    return ttls[c[2]]
  end
  local r = R.call(...)
  if c[1] == 'SET' then
    local t = -1
    for i = 4, #c do
      if c[i] == 'PX' then t = tonumber(c[i + 1]) elseif c[i] == 'KEEPTTL' then t = ttls[c[2]] end
    end
    ttls[c[2]] = t
  elseif c[1] == 'PEXPIRE' then ttls[c[2]] = tonumber(c[3])
  elseif c[1] == 'DEL' then for i = 2, #c do ttls[c[i]] = nil end end
  return r
end }
local args = {}
for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
-- Every key's final value, read in the same script: keys expiring (a TTL of 1 ms) cannot differ.
local function dump()
  local out, seen = {}, {}
  for _, k in ipairs(KEYS) do
    if not seen[k] then
      seen[k] = true
      local t = R.call('TYPE', k)['ok']
      local v = ''
      if t == 'string' then v = R.call('GET', k)
      elseif t == 'zset' then v = table.concat(R.call('ZRANGE', k, 0, -1, 'WITHSCORES'), ',')
      elseif t == 'list' then v = table.concat(R.call('LRANGE', k, 0, -1), ',') end
      out[#out + 1] = t .. ':' .. v
    end
  end
  return table.concat(out, '|')
end
${inner}`;
}

/** Side (a): the batched script once over all calls. */
function batchSide(batched: string): string {
  return clocked(`local function run(KEYS, ARGV)
${batched}
end
local r = run(KEYS, args)
return { r, table.concat(log, '\\n'), dump() }`);
}

/** Side (b): the script itself once per call, in order (a failing call's error kept as its reply). */
function sequentialSide(single: string, keysPerCall: number, argsPerCall: number): string {
  return clocked(`local function one(KEYS, ARGV)
${single}
end
local out = { '', '' }
for i = 0, #args / ${argsPerCall} - 1 do
  local ks, as = {}, {}
  for j = 1, ${keysPerCall} do ks[j] = KEYS[i * ${keysPerCall} + j] end
  for j = 1, ${argsPerCall} do as[j] = args[i * ${argsPerCall} + j] end
  local ok, r = pcall(one, ks, as)
  if not ok then r = 'ERR:' .. (type(r) == 'table' and r.err or tostring(r)) end
  out[#out + 1] = tostring(r)
end
out[1] = table.concat(log, '\\n')
out[2] = dump()
return out`);
}

type Kind = 'acquire' | 'settle' | 'pair acquire' | 'pair settle';

interface Batch {
  lua: string;
  keysPerCall: number;
  argsPerCall: number;
  /** Per call: subject indexes and arguments (as RedisStore sends them). */
  calls: { subjects: number[]; argv: (string | number)[] }[];
}

function randomBatch(rnd: () => number, kind: Kind, t: Trial, subjects: number): Batch {
  const pair = kind.startsWith('pair');
  const acquire = kind.endsWith('acquire');
  const factor = [1, 1, 0.5][Math.floor(rnd() * 3)]!;
  const limits2 = randomTrial(rnd).limits;
  let values: number[];
  if (acquire)
    values = pair ? [...t.enf, 120_000, ...t.limits, ...limits2] : [...t.enf, 120_000, ...t.limits];
  else values = pair ? [...t.enf, factor, ...t.limits, 1, ...limits2] : [...t.enf, factor, ...t.limits];
  const lua = acquire
    ? pair
      ? pairAcquireLua(values, 120_000)
      : singleAcquireLua(values, 120_000)
    : pair
      ? pairSettleLua(values)
      : singleSettleLua(values);
  const lean = !pair && leanArgs(values);
  const keysPerCall = pair ? 4 : lean ? 1 : 2;
  const n = 2 + Math.floor(rnd() * 30);
  const calls: Batch['calls'] = [];
  for (let i = 0; i < n; i++) {
    const first = Math.floor(rnd() * subjects);
    const picked = pair ? [first, (first + 1 + Math.floor(rnd() * (subjects - 1))) % subjects] : [first];
    const amounts = acquire
      ? [rnd() < 0.2 ? 0 : Math.floor(rnd() * 3_000), rnd() < 0.2 ? 0 : Math.floor(rnd() * 3_000)]
      : [
          rnd() < 0.7 ? 0 : -1,
          Math.floor((rnd() * 2 - 1) * 2_000) * (rnd() < 0.2 ? 0 : 1),
          Math.floor((rnd() * 2 - 1) * 2_000),
        ];
    // Settles release a lease of an earlier call of the batch or one the state started with.
    const leaseId = acquire ? `L${i}` : rnd() < 0.5 ? 'old-0' : `L${Math.floor(rnd() * (i + 1))}`;
    calls.push({ subjects: picked, argv: lean ? amounts : [leaseId, ...amounts] });
  }
  return { lua, keysPerCall, argsPerCall: calls[0]!.argv.length, calls };
}

const rl = (side: string, k: number, s: number): string => `llmsec:{${side}-${k}-${s}}:rl`;
const lease = (side: string, k: number, s: number): string => `llmsec:{${side}-${k}-${s}}:lease`;

async function prepare(k: number, states: Trial[]): Promise<void> {
  for (const side of ['a', 'b']) {
    for (const [s, t] of states.entries()) {
      await db.redis.del(rl(side, k, s), lease(side, k, s));
      if (t.state) await db.redis.set(rl(side, k, s), t.state);
      for (const [score, member] of t.leases) await db.redis.zadd(lease(side, k, s), score, member);
      // Leases the batch's settles release (acquired before, still held).
      await db.redis.zadd(lease(side, k, s), t.nowMs + 60_000, 'L0');
    }
  }
}

function keysOf(side: string, k: number, b: Batch): string[] {
  const keys: string[] = [];
  for (const c of b.calls) {
    for (const s of c.subjects) {
      keys.push(rl(side, k, s));
      if (b.keysPerCall > 1) keys.push(lease(side, k, s));
    }
  }
  return keys;
}

/** Runs both sides of trial `k`; returns the parts of the batched reply. */
async function compare(
  k: number,
  b: Batch,
  states: Trial[],
  afterPrepare?: () => Promise<void>,
): Promise<ReturnType<typeof splitBatchReply>> {
  await prepare(k, states);
  await afterPrepare?.();
  const argv = b.calls.flatMap((c) => c.argv);
  const clock = clockArgs(states[0]!.nowMs);
  const keysA = keysOf('a', k, b);
  const keysB = keysOf('b', k, b);
  const batched = batchedLua(b.lua, b.keysPerCall, b.argsPerCall);
  const [ra, logA, stateA] = (await db.redis.callBuffer(
    'EVAL',
    batchSide(batched),
    keysA.length,
    ...keysA,
    ...clock,
    ...argv,
  )) as Buffer[];
  const [logB, stateB, ...rb] = (await db.redis.callBuffer(
    'EVAL',
    sequentialSide(b.lua, b.keysPerCall, b.argsPerCall),
    keysB.length,
    ...keysB,
    ...clock,
    ...argv,
  )) as Buffer[];
  const parts = splitBatchReply(ra!, b.calls.length);
  parts.forEach((p, i) => {
    const own = rb[i]!;
    if (!p.ok) expect(`ERR:${p.message}`, `error of call ${i} of trial ${k}`).toBe(own.toString('utf8'));
    // settle answers the number 1, which a batch part carries as an empty reply
    else if (p.reply.length === 0) expect(own.toString(), `call ${i} of trial ${k}`).toBe('1');
    else expect(p.reply.equals(own), `reply of call ${i} of trial ${k}`).toBe(true);
  });
  expect(logA!.toString('latin1'), `commands of trial ${k}`).toBe(logB!.toString('latin1'));
  expect(stateA!.toString('latin1'), `final state of trial ${k}`).toBe(stateB!.toString('latin1'));
  return parts;
}

describe('a batched script is the same calls one after another', () => {
  for (const [kind, seed, trials] of [
    ['acquire', 41, 150],
    ['settle', 43, 120],
    ['pair acquire', 47, 100],
    ['pair settle', 53, 80],
  ] as [Kind, number, number][]) {
    it(`${kind}: every reply, every command and the final state equal over random batches`, async () => {
      const rnd = prng(seed);
      const codes = new Set<number>();
      for (let k = 0; k < trials; k++) {
        const t = randomTrial(rnd);
        const subjects = 2 + Math.floor(rnd() * 4);
        // Every subject of the batch starts from a state of its own, on the batch's clock.
        const states = [
          t,
          ...Array.from({ length: subjects - 1 }, () => ({ ...randomTrial(rnd), nowMs: t.nowMs })),
        ];
        const b = randomBatch(rnd, kind, t, subjects);
        const parts = await compare(k, b, states);
        for (const p of parts) if (p.ok && p.reply.length >= 144) codes.add(p.reply.readDoubleLE(0));
        expect(parts.every((p) => p.ok)).toBe(true);
      }
      // Acquire batches reach admissions and refusals of every kind (full-form replies).
      if (kind.endsWith('acquire')) expect([...codes].sort()).toEqual([0, 1, 2, 3, 4]);
    });
  }

  it('a call whose command fails fails alone, with the error Redis raised; the calls around it run', async () => {
    const rnd = prng(59);
    const t = randomTrial(rnd);
    const states = [t, { ...randomTrial(rnd), nowMs: t.nowMs }, { ...randomTrial(rnd), nowMs: t.nowMs }];
    const b = randomBatch(rnd, 'acquire', { ...t, limits: [...t.limits.slice(0, 8), 3] }, 3);
    b.calls = [0, 1, 2, 0, 1].map((s, i) => ({ subjects: [s], argv: [`L${i}`, 10, 10] }));
    // Subject 1's state key holds a list: GET on it raises WRONGTYPE on both sides.
    const k = 9_000;
    const parts = await compare(k, b, states, async () => {
      for (const side of ['a', 'b']) {
        await db.redis.del(rl(side, k, 1));
        await db.redis.rpush(rl(side, k, 1), 'not a state');
      }
    });
    expect(parts.map((p) => p.ok)).toEqual([true, false, true, true, false]);
    const failed = parts[1]!;
    expect(!failed.ok && failed.message).toMatch(/WRONGTYPE/);
  });
});

describe('batchedLua and the reply framing', () => {
  it('refuses a script it cannot batch, at generation', () => {
    expect(() => batchedLua('return 1', 1, 2)).toThrow(/clock prelude/);
    expect(() => batchedLua(`${CLOCK_PRELUDE}return KEYS[2]`, 1, 2)).toThrow(/KEYS\[2\] outside/);
    expect(() => batchedLua(`${CLOCK_PRELUDE}return ARGV[3]`, 1, 2)).toThrow(/ARGV\[3\] outside/);
    expect(() => batchedLua(`${CLOCK_PRELUDE}return #KEYS`, 1, 2)).toThrow(/literal index/);
  });

  it('runs a per-batch prelude once per batch, and once in a script of its own', async () => {
    // The prelude's INCR shows how often it ran; every call reads its result as an upvalue.
    const single = `${CLOCK_PRELUDE}local runs = redis.call('INCR', 'prelude-runs')
${BATCH_PRELUDE_END}return ARGV[1] .. ':' .. runs .. ':' .. KEYS[1]`;
    const lua = batchedLua(single, 1, 1);
    const client = db.redis as unknown as { evalBuffer(...a: (string | number)[]): Promise<Buffer> };
    const r = await client.evalBuffer(lua, 3, 'k1', 'k2', 'k3', 'a', 'b', 'c');
    expect(splitBatchReply(r, 3)).toEqual([
      { ok: true, reply: Buffer.from('a:1:k1') },
      { ok: true, reply: Buffer.from('b:1:k2') },
      { ok: true, reply: Buffer.from('c:1:k3') },
    ]);
    expect(await db.redis.eval(single, 1, 'k9', 'd')).toBe('d:2:k9');
    // The prelude runs before any call's keys are known: it may not read them.
    expect(() => batchedLua(`${CLOCK_PRELUDE}local x = KEYS[1]\n${BATCH_PRELUDE_END}return x`, 1, 1)).toThrow(
      /per-batch prelude reads KEYS or ARGV/,
    );
  });

  it('a batch whose arguments are not whole calls is an error reply, not a guess', async () => {
    const lua = batchedLua(`${CLOCK_PRELUDE}return ARGV[1]`, 1, 2);
    await expect(db.redis.eval(lua, 2, 'k1', 'k2', 'a', 'b', 'c')).rejects.toThrow(/not whole calls/);
  });

  it("a call that returns an error reply (not raises it) is that call's error, as alone", async () => {
    const lua = batchedLua(
      `${CLOCK_PRELUDE}if ARGV[1] == 'bad' then return redis.error_reply('ERR refused ' .. KEYS[1]) end
return ARGV[1]`,
      1,
      1,
    );
    const client = db.redis as unknown as { evalBuffer(...a: (string | number)[]): Promise<Buffer> };
    const r = await client.evalBuffer(lua, 3, 'k1', 'k2', 'k3', 'ok-1', 'bad', 'ok-3');
    expect(splitBatchReply(r, 3)).toEqual([
      { ok: true, reply: Buffer.from('ok-1') },
      { ok: false, message: 'ERR refused k2' },
      { ok: true, reply: Buffer.from('ok-3') },
    ]);
  });

  it('batchedScript caches per script and shape: another shape is never cut with the cached one', () => {
    const script = shaScript(`${CLOCK_PRELUDE}return KEYS[1] .. ARGV[1]`);
    const a = batchedScript(script, 1, 2);
    expect(batchedScript(script, 1, 2)).toBe(a);
    const b = batchedScript(script, 2, 1);
    expect(b.sha).not.toBe(a.sha);
    expect(b.lua).toContain('#ARGV / 1');
    expect(batchedScript(script, 1, 2)).toBe(a);
  });

  it('splitBatchReply reads every part and throws on a reply that does not add up', () => {
    const frame = (status: number, body: string): Buffer =>
      Buffer.concat([Buffer.from([status, body.length % 256, body.length >> 8]), Buffer.from(body)]);
    const r = Buffer.concat([frame(0, 'abc'), frame(1, 'ERR x'), frame(0, '')]);
    expect(splitBatchReply(r, 3)).toEqual([
      { ok: true, reply: Buffer.from('abc') },
      { ok: false, message: 'ERR x' },
      { ok: true, reply: Buffer.alloc(0) },
    ]);
    expect(() => splitBatchReply(r, 2)).toThrow(/bytes after 2 parts/);
    expect(() => splitBatchReply(r, 4)).toThrow(/end inside part 4/);
    expect(() => splitBatchReply(r.subarray(0, 5), 1)).toThrow(/malformed/);
    expect(() => splitBatchReply(Buffer.concat([frame(2, 'x')]), 1)).toThrow(/status 2/);
    expect(() => splitBatchReply(Buffer.alloc(0), 1)).toThrow(/end inside part 1/);
  });
});
