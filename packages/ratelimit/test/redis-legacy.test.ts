// The leases inside the state string against the scripts they replace (test/fixtures/legacy:
// leases in a sorted set of their own), on a real Redis: random sequences of acquires,
// settles (some twice), cancels and clock steps past the lease TTL, for one subject and for a
// primary and a secondary, with random tiers and enforcement. Each trial runs whole inside
// one EVAL (Redis does not expire keys during a script) with TIME answered by the trial's
// clock, so both sides see exactly the same instants. Every reply must be byte for byte the
// same (decision, refusing dimension, retry, live leases, busy times, levels) and so must the
// final state: the thirteen values, and the live leases (the sorted set's members with expiry
// after now against the records).
//
// Then the rolling upgrade: the old scripts on a state in the new layout never admit and
// never write it (they fail, so an old replica applies its failure policy, or refuse).
import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { leaseTag, LEASE_RECORD_BYTES, STATE_BYTES } from '../src/redis-lua-state.ts';
import {
  pairAcquireLua,
  pairSettleLua,
  singleAcquireLua,
  singleSettleLua,
  leanArgs,
} from '../src/redis-lua-single.ts';
import { RateLimiter } from '../src/limiter.ts';
import { RedisStore } from '../src/redis-store.ts';
import { rlKey } from '../src/keys.ts';
import * as legacy from './fixtures/legacy/redis-lua-single.ts';
import * as legacyOps from './fixtures/legacy/redis-lua.ts';
import { clockArgs, prng, randomTrial } from './lua-trials.ts';

const db = useRedis();
const LEASE_TTL = 2_000;

/** A script body as a Lua function of (KEYS, ARGV) whose TIME reads the driver's clock. */
function fn(name: string, body: string): string {
  return `local function ${name}(KEYS, ARGV)
local redis = CLOCKED
${body}
end`;
}

/**
 * The driver: ARGV = start clock (s, µs), then steps of five values (op, lease index, a, b,
 * c). op 1 acquire (a tokens, b cost), 2 settle (a requests, b tokens, c cost differences),
 * 9 clock step (a ms). Lease index i: legacy id `L<i>`, new tag leaseTag(`L<i>`), given as
 * ARGV tables LID and LTAG (after the steps). KEYS: legacy rl, lease per subject, then new rl
 * per subject.
 */
function driver(nsub: number, scripts: string, lean: boolean): string {
  return `local R = redis
local nowUs = tonumber(ARGV[1]) * 1000000 + tonumber(ARGV[2])
local CLOCKED = { error_reply = R.error_reply, call = function(...)
  local c = { ... }
  if c[1] == 'TIME' then return { tostring(math.floor(nowUs / 1000000)), tostring(nowUs % 1000000) } end
  return R.call(...)
end }
${scripts}
local nsteps = tonumber(ARGV[3])
local ids, tags = {}, {}
for i = 1, (#ARGV - 3 - 5 * nsteps) / 2 do
  ids[i - 1] = ARGV[3 + 5 * nsteps + 2 * i - 1]
  tags[i - 1] = ARGV[3 + 5 * nsteps + 2 * i]
end
local oldKeys, newKeys = {}, {}
for s = 1, ${nsub} do
  oldKeys[2 * s - 1] = KEYS[2 * s - 1]
  oldKeys[2 * s] = KEYS[2 * s]
  newKeys[s] = KEYS[2 * ${nsub} + s]
end
local oldRl = {}
for s = 1, ${nsub} do oldRl[s] = KEYS[2 * s - 1] end
local out = {}
for st = 0, nsteps - 1 do
  local at = 4 + 5 * st
  local op, li = tonumber(ARGV[at]), tonumber(ARGV[at + 1])
  local a, b, c = ARGV[at + 2], ARGV[at + 3], ARGV[at + 4]
  if op == 9 then
    nowUs = nowUs + math.floor(tonumber(a) * 1000)
  elseif op == 1 then
    ${
      lean
        ? `out[#out + 1] = old_acquire(oldRl, { a, b })
    out[#out + 1] = new_acquire(newKeys, { a, b })`
        : `out[#out + 1] = old_acquire(oldKeys, { ids[li], a, b })
    out[#out + 1] = new_acquire(newKeys, { tags[li], a, b })`
    }
  else
    ${
      lean
        ? `out[#out + 1] = tostring(old_settle(oldRl, { a, b, c }))
    out[#out + 1] = tostring(new_settle(newKeys, { a, b, c }))`
        : `out[#out + 1] = tostring(old_settle(oldKeys, { ids[li], a, b, c }))
    out[#out + 1] = tostring(new_settle(newKeys, { tags[li], a, b, c }))`
    }
  end
end
-- Final state: per subject the legacy string, live lease expiries, and the new string.
local now = nowUs / 1000
for s = 1, ${nsub} do
  out[#out + 1] = R.call('GET', oldKeys[2 * s - 1]) or ''
  local live = R.call('ZRANGEBYSCORE', oldKeys[2 * s], '(' .. string.format('%.17g', now), '+inf', 'WITHSCORES')
  local exps = {}
  for i = 2, #live, 2 do exps[#exps + 1] = live[i] end
  out[#out + 1] = table.concat(exps, ',')
  out[#out + 1] = R.call('GET', newKeys[s]) or ''
end
out[#out + 1] = string.format('%.17g', now)
return out`;
}

/** The thirteen values of a state string of either layout, in the old slot order. */
function values(s: Buffer): number[] {
  if (s.length === 0) return [];
  const d = (i: number): number => s.readDoubleLE(i * 8);
  if (s.length === 104) return Array.from({ length: 13 }, (_, i) => d(i));
  expect(d(0)).toBe(Infinity);
  return [d(13), ...Array.from({ length: 12 }, (_, i) => d(i + 1))];
}

function liveRecordExpiries(s: Buffer, now: number): number[] {
  const out: number[] = [];
  for (let at = STATE_BYTES; at < s.length; at += LEASE_RECORD_BYTES) {
    const exp = s.readDoubleLE(at);
    if (exp > now) out.push(exp);
  }
  return out;
}

describe('leases in the state string decide exactly as the sorted set did', () => {
  for (const nsub of [1, 2]) {
    it(`${nsub === 1 ? 'one subject' : 'primary and secondary'}: random acquire / settle / cancel / expiry sequences, same replies and final state`, async () => {
      const rnd = prng(nsub === 1 ? 71 : 73);
      const codes = new Set<number>();
      let maxLive = 0;
      for (let k = 0; k < (nsub === 1 ? 160 : 100); k++) {
        const t = randomTrial(rnd);
        // A whole-ms clock on some trials, with steps of exactly the lease TTL: a lease then
        // expires at exactly now (expired: expiry <= now, as ZREMRANGEBYSCORE -inf now).
        const whole = k % 3 === 0;
        if (whole) t.nowMs = Math.floor(t.nowMs);
        // Concurrency on most trials, small so that it refuses.
        t.limits[8] = [0, 1, 2, 3, 5][Math.floor(rnd() * 5)]!;
        const limits2 = randomTrial(rnd).limits;
        if (nsub === 2) {
          // Two subjects refuse twice as often: room in the request windows, so leases pile up.
          for (const l of [t.limits, limits2]) for (let i = 0; i < 3; i++) if (l[i]! > 0) l[i]! += 10;
        }
        limits2[8] = [0, 2][Math.floor(rnd() * 2)]!;
        const factor = [1, 1, 0.5][Math.floor(rnd() * 3)]!;
        const acqValues =
          nsub === 1 ? [...t.enf, LEASE_TTL, ...t.limits] : [...t.enf, LEASE_TTL, ...t.limits, ...limits2];
        const setValues =
          nsub === 1 ? [...t.enf, factor, ...t.limits] : [...t.enf, factor, ...t.limits, 1, ...limits2];
        const lean = nsub === 1 && leanArgs(acqValues);
        const scripts = [
          fn(
            'old_acquire',
            nsub === 1
              ? legacy.singleAcquireLua(acqValues, LEASE_TTL)
              : legacy.pairAcquireLua(acqValues, LEASE_TTL),
          ),
          fn('old_settle', nsub === 1 ? legacy.singleSettleLua(setValues) : legacy.pairSettleLua(setValues)),
          fn('new_acquire', nsub === 1 ? singleAcquireLua(acqValues) : pairAcquireLua(acqValues)),
          fn('new_settle', nsub === 1 ? singleSettleLua(setValues) : pairSettleLua(setValues)),
        ].join('\n');
        const steps: (string | number)[] = [];
        let leases = 0;
        const n = 20 + Math.floor(rnd() * 40);
        for (let i = 0; i < n; i++) {
          const r = rnd();
          if (r < 0.5 || leases === 0) {
            steps.push(1, leases++, Math.floor(rnd() * 2_000), Math.floor(rnd() * 2_000), 0);
          } else if (r < 0.7) {
            // Settle a lease (maybe one settled before, or expired): usage differences.
            steps.push(
              2,
              Math.floor(rnd() * leases),
              0,
              Math.floor((rnd() * 2 - 1) * 1_000),
              Math.floor((rnd() * 2 - 1) * 1_000),
            );
          } else if (r < 0.85) {
            // Cancel: the request stays counted, the estimate comes back.
            steps.push(
              2,
              Math.floor(rnd() * leases),
              0,
              -Math.floor(rnd() * 2_000),
              -Math.floor(rnd() * 2_000),
            );
          } else {
            steps.push(
              9,
              0,
              whole ? LEASE_TTL * Math.floor(rnd() * 2) : Math.floor(rnd() * LEASE_TTL * 1.5) + rnd(),
              0,
              0,
            );
          }
        }
        const ids: (string | number)[] = [];
        for (let i = 0; i < leases; i++) ids.push(`L${k}-${i}`, leaseTag(`L${k}-${i}`));
        const keys: string[] = [];
        for (let s = 0; s < nsub; s++)
          keys.push(`llmsec:{o-${nsub}-${k}-${s}}:rl`, `llmsec:{o-${nsub}-${k}-${s}}:lease`);
        for (let s = 0; s < nsub; s++) keys.push(`llmsec:{n-${nsub}-${k}-${s}}:rl`);
        // Both sides start from the trial's state (the legacy layout: the new code reads it).
        for (let s = 0; s < nsub; s++) {
          await db.redis.del(keys[2 * s]!, keys[2 * s + 1]!, keys[2 * nsub + s]!);
          if (t.state) {
            await db.redis.set(keys[2 * s]!, t.state);
            await db.redis.set(keys[2 * nsub + s]!, t.state);
          }
        }
        const out = (await db.redis.callBuffer(
          'EVAL',
          driver(nsub, scripts, lean),
          keys.length,
          ...keys,
          ...clockArgs(t.nowMs),
          steps.length / 5,
          ...steps,
          ...ids,
        )) as Buffer[];
        const nReplies = out.length - 3 * nsub - 1;
        for (let i = 0; i < nReplies; i += 2) {
          expect(out[i + 1]!.equals(out[i]!), `reply ${i / 2} of trial ${k}`).toBe(true);
          // Acquire replies: compact (88 bytes, an admission) or full (code first); settle's '1'.
          const r = out[i]!;
          if (r.length === 88) codes.add(0);
          else if (r.length > 88) codes.add(r.readDoubleLE(0));
          // Live leases of the primary after the call (compact reply: third value; full: tenth).
          if (r.length >= 88) maxLive = Math.max(maxLive, r.readDoubleLE(r.length === 88 ? 16 : 72));
        }
        const now = Number(out[out.length - 1]!.toString());
        for (let s = 0; s < nsub; s++) {
          const [oldState, oldLive, newState] = out.slice(nReplies + 3 * s, nReplies + 3 * s + 3) as Buffer[];
          const o = values(oldState!);
          const nv = values(newState!);
          // A state only the new side keeps (its leases hold the key) is the zero state.
          expect(nv.length === 0 ? [] : nv, `state of subject ${s}, trial ${k}`).toEqual(
            o.length === 0 && nv.length > 0 ? new Array<number>(13).fill(0) : o,
          );
          const expected = oldLive!.toString() === '' ? [] : oldLive!.toString().split(',').map(Number);
          const live = newState!.length > 0 ? liveRecordExpiries(newState!, now) : [];
          expect(live, `live leases of subject ${s}, trial ${k}`).toEqual(expected);
        }
      }
      // The sequences admitted, refused on concurrency and otherwise, and held several leases.
      expect(codes).toContain(0);
      expect(codes).toContain(1);
      expect(maxLive).toBeGreaterThan(1);
    });
  }
});

describe('rolling upgrade: an old replica on the new layout', () => {
  const tiers = { t: { requestsPerMinute: 100, tokensPerHour: 100_000, concurrent: 3 } };

  it('never admits and never overwrites the state: its acquire, settle, violation, lift and ban fail', async () => {
    const lim = new RateLimiter({
      store: new RedisStore({ client: db.redis }),
      tiers,
      commandTimeoutMs: 5_000,
    });
    const subject = `upgrade-${Date.now()}`;
    const held = await lim.acquire({ subject, estimatedTokens: 10 });
    expect(held.allowed).toBe(true);
    const key = rlKey(subject);
    const before = (await db.redis.getBuffer(key))!;
    expect(before.length).toBe(STATE_BYTES + LEASE_RECORD_BYTES);
    const enf = [5, 10, 20, 50, 600_000, 300_000, 0.5, 1, 31_536_000_000];
    const limits = [100, 0, 0, 0, 100_000, 0, 0, 0, 3];
    const leaseKey = key.replace(/:rl$/, ':lease');
    const old = [
      [
        'acquire',
        legacy.singleAcquireLua([...enf, 120_000, ...limits], 120_000),
        [key, leaseKey],
        ['old-id', 10, 0],
      ],
      // Windows without requests per minute: the old code would admit, and fails at its write.
      [
        'acquire (tokens only)',
        legacy.singleAcquireLua([...enf, 120_000, 0, 0, 0, 0, 100_000, 0, 0, 0, 3], 120_000),
        [key, leaseKey],
        ['old-id', 10, 0],
      ],
      ['settle', legacy.singleSettleLua([...enf, 1, ...limits]), [key, leaseKey], ['old-id', 0, 5, 0]],
      ['violation', legacyOps.VIOLATION_LUA, [key], [1, ...enf]],
      ['lift', legacyOps.LIFT_LUA, [key], [0, ...enf]],
      ['ban', legacyOps.BAN_LUA, [key], [0, ...enf]],
    ] as const;
    for (const [name, lua, keys, argv] of old) {
      await expect(db.redis.eval(lua, keys.length, ...keys, ...argv), name).rejects.toThrow(/integer|range/);
      expect((await db.redis.getBuffer(key))!.equals(before), `state after the old ${name}`).toBe(true);
    }
    // The new code still holds its lease and settles it.
    await lim.settle(held.lease!, { tokens: 10 });
    expect((await db.redis.getBuffer(key))!.length).toBe(STATE_BYTES);
  });

  it('reads the old layout (13 doubles) as the old code wrote it, and writes it back in the new one', async () => {
    const lim = new RateLimiter({
      store: new RedisStore({ client: db.redis }),
      tiers,
      commandTimeoutMs: 5_000,
    });
    const subject = `upgrade-read-${Date.now()}`;
    const key = rlKey(subject);
    // An old replica banned the subject: banned, level 4, a year's TTL.
    const enf = [5, 10, 20, 50, 600_000, 300_000, 0.5, 1, 31_536_000_000];
    await db.redis.eval(legacyOps.BAN_LUA, 1, key, 0, ...enf);
    expect((await db.redis.getBuffer(key))!.length).toBe(104);
    const r = await lim.acquire({ subject, estimatedTokens: 10 });
    expect(r.allowed).toBe(false);
    expect(r.reason).toBe('banned');
    expect((await lim.status(subject)).banned).toBe(true);
    await lim.lift(subject);
    const ok = await lim.acquire({ subject, estimatedTokens: 10 });
    expect(ok.allowed).toBe(true);
    expect((await db.redis.getBuffer(key))!.length).toBe(STATE_BYTES + LEASE_RECORD_BYTES);
  });
});

describe('the concurrency cap', () => {
  it('rejects a tier above 1,024 concurrent at construction, with the reason', () => {
    expect(
      () =>
        new RateLimiter({ store: new RedisStore({ client: db.redis }), tiers: { t: { concurrent: 1_025 } } }),
    ).toThrow(/concurrent must be at most 1024/);
    expect(() => new RateLimiter({ tiers: { t: { concurrent: 1_025 } } })).toThrow(/at most 1024/);
  });

  it('at the cap: exactly 1,024 leases held, the next refused, each settle frees exactly one slot once', async () => {
    const lim = new RateLimiter({
      store: new RedisStore({ client: db.redis }),
      tiers: { t: { concurrent: 1_024 } },
      enforcement: false,
      commandTimeoutMs: 10_000,
    });
    const subject = `cap-${Date.now()}`;
    const results = await Promise.all(
      Array.from({ length: 1_100 }, () => lim.acquire({ subject, estimatedTokens: 0 })),
    );
    const held = results.filter((r) => r.allowed);
    expect(held.length).toBe(1_024);
    expect((await db.redis.getBuffer(rlKey(subject)))!.length).toBe(STATE_BYTES + 1_024 * LEASE_RECORD_BYTES);
    // Settle one lease twice (and cancel it after): one slot comes back, not two.
    await lim.settle(held[0]!.lease!, { tokens: 0 });
    await lim.settle(held[0]!.lease!, { tokens: 0 });
    await lim.cancel(held[0]!.lease!);
    const again = await Promise.all([
      lim.acquire({ subject, estimatedTokens: 0 }),
      lim.acquire({ subject, estimatedTokens: 0 }),
    ]);
    expect(again.map((r) => r.allowed)).toEqual([true, false]);
    expect((await lim.status(subject)).activeLeases).toBe(1_024);
  });

  it('lease tags: 200,000 ids of a zero-padded counter (a custom idGenerator) get distinct tags', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 200_000; i++) seen.add(leaseTag(String(i).padStart(32, '0')));
    expect(seen.size).toBe(200_000);
    expect(Number.isSafeInteger(leaseTag('x'))).toBe(true);
  });
});
