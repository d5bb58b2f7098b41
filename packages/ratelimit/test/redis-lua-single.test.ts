// The straight-line one-subject scripts (redis-lua-single.ts) against the templates they
// replace (redis-lua.ts, baked), on a real Redis: same starting state, same clock, random
// tiers, enforcement parameters, states, leases and amounts. Both run inside one EVAL with
// TIME answered by a fixed clock; every command either sends after TIME is recorded, and the
// replies, the commands (SET bytes and TTL, ZADD, PEXPIRE, ZREM, ...) must be identical.
import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { bakedAcquireLua, bakedSettleLua } from '../src/redis-lua.ts';
import { singleAcquireLua, singleSettleLua } from '../src/redis-lua-single.ts';

const db = useRedis();

/** Runs `a` on KEYS[1..2] and `b` on KEYS[3..4] with TIME fixed at ARGV[1] s + ARGV[2] µs. */
function harness(a: string, b: string): string {
  const side = (body: string, k: string) => `local function run_${k}(KEYS, ARGV)
local redis = rec_${k}
${body}
end`;
  return `local R = redis
local sec, usec = ARGV[1], ARGV[2]
local args = {}
for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
local function recorder(log, keyA, keyB)
  return { call = function(...)
    local c = { ... }
    if c[1] == 'TIME' then return { sec, usec } end
    local line = {}
    for i = 1, #c do
      local x = c[i]
      if x == keyA then x = 'RL' elseif x == keyB then x = 'LEASE' end
      if type(x) == 'number' then x = string.format('%.17g', x) end
      line[#line + 1] = type(x) .. ':' .. x
    end
    log[#log + 1] = table.concat(line, ' ')
    return R.call(...)
  end }
end
local logA, logB = {}, {}
local rec_a = recorder(logA, KEYS[1], KEYS[2])
local rec_b = recorder(logB, KEYS[3], KEYS[4])
${side(a, 'a')}
${side(b, 'b')}
local ra = run_a({ KEYS[1], KEYS[2] }, args)
local rb = run_b({ KEYS[3], KEYS[4] }, args)
return { tostring(ra), tostring(rb), table.concat(logA, '\\n'), table.concat(logB, '\\n') }`;
}

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WINDOWS = [60_000, 3_600_000, 86_400_000, 60_000, 3_600_000, 86_400_000, 3_600_000, 86_400_000];

function packed(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => b.writeDoubleLE(v, i * 8));
  return b;
}

interface Trial {
  enf: number[];
  limits: number[];
  nowMs: number;
  state: Buffer | undefined;
  leases: [number, string][];
}

function randomTrial(rnd: () => number): Trial {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const enf = [
    pick([2, 5]),
    pick([4, 10]),
    pick([6, 20]),
    pick([8, 50]),
    pick([1_000, 600_000]),
    pick([5_000, 300_000]),
    pick([1, 0.5, 0.3]),
    pick([0, 1, 3]),
    pick([86_400_000, 31_536_000_000]),
  ];
  const limits = WINDOWS.map((_, i) =>
    rnd() < 0.35 ? 0 : i < 3 ? 1 + Math.floor(rnd() * 6) : Math.floor(100 + rnd() * 5_000),
  );
  limits.push(pick([0, 0, 1, 2, 3]));
  const nowMs = 1_760_000_000_000 + Math.floor(rnd() * 1e9) + Math.floor(rnd() * 1000) / 1000;
  let state: Buffer | undefined;
  if (rnd() < 0.8) {
    const tats = WINDOWS.map((w) => (rnd() < 0.3 ? 0 : nowMs + (rnd() * 2 - 0.8) * w));
    const score = rnd() < 0.4 ? 0 : rnd() * 60;
    const scoreAt = nowMs - rnd() * 1_200_000;
    const blocked = pick([0, nowMs - 1_000, nowMs + 2_000 + rnd() * 100_000]);
    const banned = rnd() < 0.1 ? 1 : 0;
    state = packed([...tats, score, scoreAt, blocked, banned, Math.floor(rnd() * 5)]);
  }
  const leases: [number, string][] = [];
  const n = Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) leases.push([Math.floor(nowMs + (rnd() * 2 - 1) * 60_000), `old-${i}`]);
  return { enf, limits, nowMs, state, leases };
}

async function prepare(k: number, t: Trial): Promise<string[]> {
  const keys = [`llmsec:{a${k}}:rl`, `llmsec:{a${k}}:lease`, `llmsec:{b${k}}:rl`, `llmsec:{b${k}}:lease`];
  for (const [rl, lease] of [
    [keys[0]!, keys[1]!],
    [keys[2]!, keys[3]!],
  ] as const) {
    await db.redis.del(rl, lease);
    if (t.state) await db.redis.set(rl, t.state);
    for (const [score, member] of t.leases) await db.redis.zadd(lease, score, member);
  }
  return keys;
}

function clockArgs(nowMs: number): string[] {
  const us = Math.round(nowMs * 1000);
  return [String(Math.floor(us / 1e6)), String(us % 1e6)];
}

async function compare(
  k: number,
  t: Trial,
  template: string,
  single: string,
  argv: (string | number)[],
): Promise<Buffer> {
  const keys = await prepare(k, t);
  const [ra, rb, logA, logB] = (await db.redis.callBuffer(
    'EVAL',
    harness(template, single),
    4,
    ...keys,
    ...clockArgs(t.nowMs),
    ...argv,
  )) as Buffer[];
  expect(rb!.equals(ra!), `reply of trial ${k}`).toBe(true);
  expect(logB!.toString('latin1'), `commands of trial ${k}`).toBe(logA!.toString('latin1'));
  return ra!;
}

describe('straight-line one-subject scripts decide exactly as the templates', () => {
  it('acquire: replies and every command equal over random tiers, states, leases and amounts', async () => {
    const rnd = prng(13);
    const codes = new Set<number>();
    for (let k = 0; k < 500; k++) {
      const t = randomTrial(rnd);
      const values = [...t.enf, 120_000, ...t.limits];
      const tokens = rnd() < 0.2 ? 0 : Math.floor(rnd() * 3_000);
      const cost = rnd() < 0.2 ? 0 : Math.floor(rnd() * 3_000);
      const template = bakedAcquireLua(values, 120_000);
      const single = singleAcquireLua(values, 120_000);
      const reply = await compare(k, t, template, single, ['lease-x', tokens, cost]);
      codes.add(reply.readDoubleLE(0));
    }
    // The trials reach every outcome: admitted, refused by a limit, by the estimate, blocked, banned.
    expect([...codes].sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('settle: replies and every command equal over random tiers, factors, states and deltas', async () => {
    const rnd = prng(29);
    for (let k = 0; k < 400; k++) {
      const t = randomTrial(rnd);
      const factor = [1, 1, 0.5, 0.3][Math.floor(rnd() * 4)]!;
      const values = [...t.enf, factor, ...t.limits];
      const requests = rnd() < 0.7 ? 0 : -1;
      const tokens = Math.floor((rnd() * 2 - 1) * 2_000) * (rnd() < 0.2 ? 0 : 1);
      const cost = Math.floor((rnd() * 2 - 1) * 2_000) * (rnd() < 0.2 ? 0 : 1);
      const template = bakedSettleLua(values);
      const single = singleSettleLua(values);
      await compare(2_000 + k, t, template, single, ['old-0', requests, tokens, cost]);
    }
  });
});
