// The straight-line one-subject scripts (redis-lua-single.ts) against the templates they
// replace (redis-lua.ts, baked), on a real Redis: same starting state, same clock, random
// tiers, enforcement parameters, states, leases and amounts. Both run inside one EVAL with
// TIME answered by a fixed clock; every command either sends after TIME is recorded, and the
// replies, the commands (SET bytes and TTL, ZADD, PEXPIRE, ZREM, ...) must be identical.
// With a concurrency limit the straight-line scripts keep lease horizons after the state's
// thirteen doubles and skip lease-set commands that would change nothing
// (redis-lua-lease.ts): there the commands are compared without ZREMRANGEBYSCORE, ZRANGE,
// PEXPIRE / PEXPIREAT; what those commands leave in the lease set is compared at the end, and
// the TTLs are checked against a real clock in redis-lease-horizons.test.ts. Every tier's SET
// is compared by its first 104 bytes (the thirteen doubles), and by its TTL when the state
// holds enforcement: a state holding none records its key's expiry and keeps the TTL or sets
// it with slack (redis-lua-expiry.ts, checked in redis-state-expiry.test.ts).
import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { bakedAcquireLua, bakedSettleLua } from '../src/redis-lua.ts';
import { COMPACT_REPLY_BYTES, parseOneSubject } from '../src/redis-reply.ts';
import {
  leanArgs,
  pairAcquireLua,
  pairSettleLua,
  singleAcquireLua,
  singleSettleLua,
} from '../src/redis-lua-single.ts';
import { clockArgs, packed, prng, randomTrial as plainTrial, type Trial } from './lua-trials.ts';

/**
 * A random trial whose state, with a concurrency limit, often carries lease horizons
 * (redis-lua-lease.ts) that are true of its leases: hz at or below the oldest lease (or
 * unknown), ke at or past the newest (or unknown), so the straight-line scripts take both
 * the skipping and the full paths.
 */
function randomTrial(rnd: () => number): Trial {
  const t = plainTrial(rnd);
  if (!t.state || !(t.limits[8]! > 0) || rnd() < 0.4) return t;
  const scores = t.leases.map(([s]) => s);
  const oldest = scores.length > 0 ? Math.min(...scores) : t.nowMs + rnd() * 60_000;
  const newest = scores.length > 0 ? Math.max(...scores) : t.nowMs;
  const hz = [0, oldest, oldest - Math.floor(rnd() * 30_000)][Math.floor(rnd() * 3)]!;
  const ke = [0, newest + Math.floor(rnd() * 240_000)][Math.floor(rnd() * 2)]!;
  return { ...t, state: Buffer.concat([t.state, packed([hz, ke])]) };
}

const db = useRedis();

/**
 * Runs `a` on KEYS[1..n] and `b` on KEYS[n+1..2n] with TIME fixed at ARGV[1] s + ARGV[2] µs.
 * `leases`: the lease-maintenance commands are left out of the logs (see the header).
 */
function harness(a: string, b: string, n = 2, leases = false): string {
  const side = (body: string, k: string) => `local function run_${k}(KEYS, ARGV)
local redis = rec_${k}
${body}
end`;
  return `local R = redis
local sec, usec = ARGV[1], ARGV[2]
local args = {}
for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
local n = ${n}
local keysA, keysB = {}, {}
for i = 1, n do keysA[i] = KEYS[i]; keysB[i] = KEYS[n + i] end
local function recorder(log, keys)
  local names = {}
  for i = 1, #keys do names[keys[i]] = 'K' .. i end
  return { call = function(...)
    local c = { ... }
    if c[1] == 'TIME' then return { sec, usec } end
    local skip = { ZREMRANGEBYSCORE = true, ZRANGE = true, PEXPIRE = true, PEXPIREAT = true }
    if ${leases ? 'true' : 'false'} and skip[c[1]] then return R.call(...) end
    if c[1] == 'SET' then
      -- The TTL is compared unless the state holds no enforcement (only such a state keeps its
      -- key's TTL or gets it with slack, and is kept alive for its horizons: its TTL is checked
      -- on a real clock in redis-state-expiry.test.ts): a ban, block or score must lapse
      -- exactly as the template's. The bytes after the thirteen doubles (horizons, expiry)
      -- are the straight-line scripts' own.
      local a = { struct.unpack('<ddddddddddddd', c[3]) }
      local now = tonumber(sec) * 1000 + tonumber(usec) / 1000
      if a[12] ~= 1 and a[9] == 0 and a[11] <= now and a[13] == 0 then c = { c[1], c[2], string.sub(c[3], 1, 104) }
      else c = { c[1], c[2], string.sub(c[3], 1, 104), c[4], c[5] } end
    end
    local line = {}
    for i = 1, #c do
      local x = c[i]
      if names[x] then x = names[x] end
      if type(x) == 'number' then x = string.format('%.17g', x) end
      line[#line + 1] = type(x) .. ':' .. x
    end
    log[#log + 1] = table.concat(line, ' ')
    return R.call(...)
  end }
end
local logA, logB = {}, {}
local rec_a = recorder(logA, keysA)
local rec_b = recorder(logB, keysB)
${side(a, 'a')}
${side(b, 'b')}
local ra = run_a(keysA, args)
local rb = run_b(keysB, args)
return { tostring(ra), tostring(rb), table.concat(logA, '\\n'), table.concat(logB, '\\n') }`;
}

/**
 * The harness hands both sides the template's full arguments (rl, lease; leaseId, ...); a
 * lean script (no concurrency limit) is called by RedisStore with the rl key and the amounts
 * only, so it sees them that way here: a lean script reading a lease argument would differ.
 */
function asSent(body: string, values: number[], amounts: number): string {
  if (!leanArgs(values)) return body;
  const argv = Array.from({ length: amounts }, (_, i) => `ARGV[${i + 2}]`).join(', ');
  return `local KEYS, ARGV = { KEYS[1] }, { ${argv} }\n${body}`;
}

/** Keys of both sides (A then B), each subject starting from the state and leases of its trial. */
async function prepare(k: number, trials: Trial[]): Promise<string[]> {
  const keys: string[] = [];
  for (const side of ['a', 'b']) {
    for (const [s, t] of trials.entries()) {
      const rl = `llmsec:{${side}${k}-${s}}:rl`;
      const lease = `llmsec:{${side}${k}-${s}}:lease`;
      keys.push(rl, lease);
      await db.redis.del(rl, lease);
      if (t.state) await db.redis.set(rl, t.state);
      for (const [score, member] of t.leases) await db.redis.zadd(lease, score, member);
    }
  }
  return keys;
}

/**
 * The straight-line acquire's compact reply (admitted at level normal) written out in the
 * template's full form: the constants redis-reply.ts fills in, and the doubles as sent.
 */
function fullForm(r: Buffer): Buffer {
  if (r.length !== COMPACT_REPLY_BYTES) return r;
  const d = (i: number): number => r.readDoubleLE(i * 8);
  return packed([0, -1, -1, 0, d(0), d(1), 0, 0, 1, d(2), ...Array.from({ length: 8 }, (_, i) => d(3 + i))]);
}

async function compare(
  k: number,
  trials: Trial[],
  template: string,
  straight: string,
  argv: (string | number)[],
  onReplies?: (template: Buffer, straight: Buffer) => void,
): Promise<Buffer> {
  const keys = await prepare(k, trials);
  const leases = trials.some((t) => t.limits[8]! > 0);
  const [ra, rb, logA, logB] = (await db.redis.callBuffer(
    'EVAL',
    harness(template, straight, 2 * trials.length, leases),
    keys.length,
    ...keys,
    ...clockArgs(trials[0]!.nowMs),
    ...argv,
  )) as Buffer[];
  onReplies?.(ra!, rb!);
  expect(fullForm(rb!).equals(ra!), `reply of trial ${k}`).toBe(true);
  expect(logB!.toString('latin1'), `commands of trial ${k}`).toBe(logA!.toString('latin1'));
  // The same leases are left in each subject's set (the skipped commands would have removed
  // nothing more). The trials' clock lies in the past, so a PEXPIREAT may have deleted a set
  // on the straight side: compared when both exist.
  const half = keys.length / 2;
  for (let i = 1; i < half; i += 2) {
    const [a, b] = [keys[i]!, keys[half + i]!];
    if ((await db.redis.exists(a)) === 1 && (await db.redis.exists(b)) === 1)
      expect(await db.redis.zrange(b, 0, -1, 'WITHSCORES'), `leases of trial ${k}`).toEqual(
        await db.redis.zrange(a, 0, -1, 'WITHSCORES'),
      );
  }
  return ra!;
}

describe('straight-line one-subject scripts decide exactly as the templates', () => {
  it('acquire: replies and every command equal over random tiers, states, leases and amounts', async () => {
    const rnd = prng(13);
    const codes = new Set<number>();
    const forms = new Set<string>();
    for (let k = 0; k < 500; k++) {
      const t = randomTrial(rnd);
      const values = [...t.enf, 120_000, ...t.limits];
      const tokens = rnd() < 0.2 ? 0 : Math.floor(rnd() * 3_000);
      const cost = rnd() < 0.2 ? 0 : Math.floor(rnd() * 3_000);
      const template = bakedAcquireLua(values, 120_000);
      const single = asSent(singleAcquireLua(values, 120_000), values, 2);
      const reply = await compare(k, [t], template, single, ['lease-x', tokens, cost], (full, straight) => {
        // What RedisStore makes of either reply is the same outcome.
        expect(parseOneSubject(straight), `parsed reply of trial ${k}`).toEqual(parseOneSubject(full));
        forms.add(straight.length === COMPACT_REPLY_BYTES ? 'compact' : `full ${full.readDoubleLE(0)}`);
      });
      codes.add(reply.readDoubleLE(0));
    }
    // The trials reach every outcome: admitted, refused by a limit, by the estimate, blocked, banned.
    expect([...codes].sort()).toEqual([0, 1, 2, 3, 4]);
    // Admissions in both forms: compact at level normal, full when throttled or warned.
    expect(forms).toContain('compact');
    expect(forms).toContain('full 0');
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
      const single = asSent(singleSettleLua(values), values, 3);
      await compare(2_000 + k, [t], template, single, ['old-0', requests, tokens, cost]);
    }
  });

  it('two subjects, acquire: replies and every command equal (the second checked only if the first admits)', async () => {
    const rnd = prng(31);
    const codes = new Set<string>();
    for (let k = 0; k < 400; k++) {
      const first = randomTrial(rnd);
      const second = { ...randomTrial(rnd), enf: first.enf, nowMs: first.nowMs };
      const values = [...first.enf, 120_000, ...first.limits, ...second.limits];
      const tokens = rnd() < 0.2 ? 0 : Math.floor(rnd() * 3_000);
      const cost = rnd() < 0.2 ? 0 : Math.floor(rnd() * 3_000);
      const reply = await compare(
        4_000 + k,
        [first, second],
        bakedAcquireLua(values, 120_000),
        pairAcquireLua(values, 120_000),
        ['lease-x', tokens, cost],
      );
      codes.add(`${reply.readDoubleLE(0)}/${reply.readDoubleLE(8)}`);
    }
    // Admitted, and each refusal code by either subject.
    for (const c of ['0/-1', '1/0', '1/1', '2/0', '2/1', '3/0', '3/1', '4/0', '4/1'])
      expect(codes).toContain(c);
  });

  it('two subjects, settle: replies and every command equal', async () => {
    const rnd = prng(37);
    for (let k = 0; k < 300; k++) {
      const first = randomTrial(rnd);
      const second = { ...randomTrial(rnd), enf: first.enf, nowMs: first.nowMs };
      const f1 = [1, 0.5][Math.floor(rnd() * 2)]!;
      const f2 = [1, 0.3][Math.floor(rnd() * 2)]!;
      const values = [...first.enf, f1, ...first.limits, f2, ...second.limits];
      const requests = rnd() < 0.7 ? 0 : -1;
      const tokens = Math.floor((rnd() * 2 - 1) * 2_000);
      const cost = Math.floor((rnd() * 2 - 1) * 2_000);
      await compare(6_000 + k, [first, second], bakedSettleLua(values), pairSettleLua(values), [
        'old-0',
        requests,
        tokens,
        cost,
      ]);
    }
  });
});
