// The lease horizons of the straight-line scripts (redis-lua-lease.ts) on a real Redis, with
// TIME answered by a test clock a day ahead of the real one (so Redis itself expires nothing
// during a test) and Redis's expiry applied on that clock before every call: a key whose
// PEXPIRETIME has passed is deleted, and PEXPIRE and SET ... PX are made absolute on the test
// clock (PEXPIREAT, PXAT).
// Checked: expiry exactly at the boundary, many open leases on one subject (the commands per
// call do not depend on how many), crashed holders' slots coming back, the lease key always
// outliving its leases, and a fleet of old and new scripts (the general template writes the
// state without horizons, as the replicas before them did) counting the same leases; a fleet
// of single, batched, pair and template acquires, settles, cancels, resets, enforcement writes
// and status reads in random order, with the stored horizons checked true after every step;
// replicas with different lease TTLs; a ban or score lapsing as before with leases open.
import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import {
  BAN_LUA,
  bakedAcquireLua,
  bakedSettleLua,
  LIFT_LUA,
  SNAPSHOT_LUA,
  VIOLATION_LUA,
} from '../src/redis-lua.ts';
import { batchedLua, splitBatchReply } from '../src/redis-lua-batch.ts';
import { LEASE_KEY_SLACK, STATE_WITH_HORIZONS_BYTES } from '../src/redis-lua-lease.ts';
import { STATE_WITH_EXPIRY_BYTES, STATE_WITH_HORIZONS_AND_EXPIRY_BYTES } from '../src/redis-lua-expiry.ts';
import { pairAcquireLua, pairSettleLua, singleAcquireLua, singleSettleLua } from '../src/redis-lua-single.ts';
import { parseOneSubject, parseTwoSubjects } from '../src/redis-reply.ts';
import { clockArgs, prng } from './lua-trials.ts';

const db = useRedis();

const TTL = 60_000;
const HUGE = 1e12;
// warningAt, throttledAt, blockedAt, bannedAt, halfLifeMs, blockMs, throttleFactor, refusalWeight, banTtlMs
const ENF = [5, 10, 20, 50, 600_000, 60_000, 1, 0, 86_400_000];
const acquireValues = (concurrent: number) => [...ENF, TTL, HUGE, 0, 0, 0, 0, 0, 0, 0, concurrent];
const settleValues = (concurrent: number) => [...ENF, 1, HUGE, 0, 0, 0, 0, 0, 0, 0, concurrent];

/** The script run with TIME fixed at ARGV[1] s + ARGV[2] µs, PEXPIRE made absolute on that clock, commands logged. */
function clocked(inner: string): string {
  return `local R = redis
local sec, usec = ARGV[1], ARGV[2]
local nowMs = math.floor(tonumber(sec) * 1000 + tonumber(usec) / 1000)
local log = {}
local redis = { error_reply = R.error_reply, call = function(...)
  local c = { ... }
  if c[1] == 'TIME' then return { sec, usec } end
  log[#log + 1] = c[1]
  if c[1] == 'PEXPIRE' then return R.call('PEXPIREAT', c[2], nowMs + tonumber(c[3])) end
  if c[1] == 'SET' and c[4] == 'PX' then return R.call('SET', c[2], c[3], 'PXAT', nowMs + tonumber(c[5])) end
  return R.call(...)
end }
local args = {}
for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
local function run(KEYS, ARGV)
${inner}
end
local r = run(KEYS, args)
if type(r) ~= 'string' then r = tostring(r) end
return { r, table.concat(log, ' ') }`;
}

const RL = 'llmsec:{s}:rl';
const LEASE = 'llmsec:{s}:lease';
/** A day ahead of the real clock, whole milliseconds. */
const base = Math.floor(Date.now() / 1000) * 1000 + 86_400_000;

/** Redis's expiry on the test clock: keys whose expiry time has passed are deleted. */
async function expireAt(nowMs: number): Promise<void> {
  for (const k of [RL, LEASE]) {
    const at = (await db.redis.call('PEXPIRETIME', k)) as number;
    if (at >= 0 && at <= nowMs) await db.redis.del(k);
  }
}

async function run(
  lua: string,
  nowMs: number,
  argv: (string | number)[],
): Promise<{ reply: Buffer; log: string }> {
  await expireAt(nowMs);
  const [reply, log] = (await db.redis.callBuffer(
    'EVAL',
    clocked(lua),
    2,
    RL,
    LEASE,
    ...clockArgs(nowMs),
    ...argv,
  )) as Buffer[];
  return { reply: reply!, log: log!.toString() };
}

const newAcquire = (c: number) => singleAcquireLua(acquireValues(c), TTL);
const oldAcquire = (c: number) => bakedAcquireLua(acquireValues(c), TTL);
const newSettle = (c: number) => singleSettleLua(settleValues(c));
const oldSettle = (c: number) => bakedSettleLua(settleValues(c));

async function acquire(lua: string, nowMs: number, id: string) {
  const { reply, log } = await run(lua, nowMs, [id, 0, 0]);
  const o = parseOneSubject(reply);
  return { admitted: o.code === 0, leases: o.subjects[0]!.leases, leaseExp: o.leaseExpiresAtMs, log };
}

/**
 * The lease key lives at least as long as its newest lease, and at most the slack longer than
 * the newest lease ever added (`newestAdded`; a settle may have removed that one).
 */
async function expectKeyCoversLeases(newestAdded?: number): Promise<void> {
  const scores = (await db.redis.zrange(LEASE, 0, -1, 'WITHSCORES'))
    .filter((_, i) => i % 2 === 1)
    .map(Number);
  if (scores.length === 0) return;
  const at = (await db.redis.call('PEXPIRETIME', LEASE)) as number;
  const newest = Math.max(...scores);
  expect(at).toBeGreaterThanOrEqual(newest);
  expect(at).toBeLessThanOrEqual((newestAdded ?? newest) + Math.ceil(TTL * LEASE_KEY_SLACK) + 1);
}

describe('lease horizons', () => {
  it('a lease expiring exactly now is free again; a millisecond before it is not', async () => {
    await db.redis.del(RL, LEASE);
    const first = await acquire(newAcquire(2), base, 'a');
    expect(first.admitted).toBe(true);
    // Alone in its set, the lease leaves the state without horizons (nothing to skip yet): the
    // thirteen doubles and the key's expiry (redis-lua-expiry.ts).
    expect((await db.redis.getBuffer(RL))?.length ?? STATE_WITH_EXPIRY_BYTES).toBe(STATE_WITH_EXPIRY_BYTES);
    const second = await acquire(newAcquire(2), base + 10, 'b');
    // No horizons yet: the oldest lease is read (live: nothing to remove), the key's expiry set.
    expect(second.log).toBe('GET ZCARD ZRANGE ZADD PEXPIREAT SET');
    // With another lease open the state carries the horizons: none expires before the first.
    const state = (await db.redis.getBuffer(RL))!;
    expect(state.length).toBe(STATE_WITH_HORIZONS_AND_EXPIRY_BYTES);
    expect(state.readDoubleLE(13 * 8)).toBe(first.leaseExp);
    const before = await acquire(newAcquire(2), first.leaseExp - 1, 'c');
    expect(before.admitted).toBe(false);
    expect(before.log).toBe('GET ZCARD ZRANGE');
    const at = await acquire(newAcquire(2), first.leaseExp, 'c');
    expect(at.admitted).toBe(true);
    expect(at.leases).toBe(2);
    // The expired lease removed, the oldest read again; the key's expiry moved past the new lease.
    expect(at.log).toBe('GET ZCARD ZRANGE ZREMRANGEBYSCORE ZRANGE ZADD PEXPIREAT SET');
    expect(await db.redis.zrange(LEASE, 0, -1)).toEqual(['b', 'c']);
  });

  it('skips ZREMRANGEBYSCORE and PEXPIRE while no lease is due, with 2,000 open leases, and counts exactly', async () => {
    await db.redis.del(RL, LEASE);
    const lua = newAcquire(10_000);
    let now = base;
    const logs: string[] = [];
    for (let i = 0; i < 2_000; i++) {
      const r = await acquire(lua, now, `l${i}`);
      expect(r.admitted).toBe(true);
      expect(r.leases).toBe(i + 1);
      logs.push(r.log);
      now += 5;
    }
    await expectKeyCoversLeases();
    // The first call makes the key (PEXPIRE as before). This tier's state lives a millisecond
    // (requests per minute only, far from the limit), so the second finds no horizons: it
    // reads the oldest lease (ZRANGE; live, so nothing is removed) and sets the key's expiry
    // (PEXPIREAT); from then on the state lives as long as the key. Every later call: GET,
    // ZCARD, ZADD, SET, whatever the number open, except the refreshes of the key's TTL (one
    // per quarter lease TTL).
    expect(logs[0]).toBe('GET ZCARD ZADD PEXPIRE SET');
    expect(logs[1]).toBe('GET ZCARD ZRANGE ZADD PEXPIREAT SET');
    const lean = logs.filter((l) => l === 'GET ZCARD ZADD SET').length;
    const refreshes = logs.filter((l) => l === 'GET ZCARD ZADD PEXPIREAT SET').length;
    expect(lean + refreshes).toBe(1_998);
    expect(refreshes).toBeLessThanOrEqual(Math.ceil((2_000 * 5) / (TTL * LEASE_KEY_SLACK)) + 1);
    // Half of them expire: the next call finds the oldest due, removes them once and reads the
    // new oldest; the one after is lean again.
    now = base + TTL + 1_000 * 5;
    const due = await acquire(lua, now, 'late-1');
    expect(due.log).toBe('GET ZCARD ZRANGE ZREMRANGEBYSCORE ZRANGE ZADD PEXPIREAT SET');
    expect(due.leases).toBe(2_000 - 1_001 + 1);
    const next = await acquire(lua, now + 1, 'late-2');
    expect(next.log).toBe('GET ZCARD ZADD SET');
    expect(next.leases).toBe(2_000 - 1_001 + 2);
    expect(await db.redis.zcard(LEASE)).toBe(next.leases);
    await expectKeyCoversLeases();
  });

  it("crashed holders' slots come back after the lease TTL; the key then expires on its own", async () => {
    await db.redis.del(RL, LEASE);
    const lua = newAcquire(3);
    const exps: number[] = [];
    for (let i = 0; i < 3; i++) exps.push((await acquire(lua, base + i * 1_000, `crash-${i}`)).leaseExp);
    expect((await acquire(lua, base + 3_000, 'refused')).admitted).toBe(false);
    // The first holder's lease expires: exactly one slot comes back.
    const one = await acquire(lua, exps[0]!, 'back-1');
    expect(one.admitted).toBe(true);
    expect(one.leases).toBe(3);
    expect((await acquire(lua, exps[0]! + 1, 'refused')).admitted).toBe(false);
    await expectKeyCoversLeases();
    // Nobody settles: once every lease expired the key is gone within the slack.
    const last = (await db.redis.zrange(LEASE, -1, -1, 'WITHSCORES')).map(Number)[1]!;
    await expireAt(last + Math.ceil(TTL * LEASE_KEY_SLACK) + 1);
    expect(await db.redis.exists(LEASE)).toBe(0);
    expect((await acquire(lua, last + Math.ceil(TTL * LEASE_KEY_SLACK) + 2, 'fresh')).leases).toBe(1);
  });

  it('old and new scripts on one Redis agree on the count (random acquires, settles, crashes, clock steps)', async () => {
    for (const seed of [1, 2, 3, 4]) {
      await db.redis.del(RL, LEASE);
      const rnd = prng(seed);
      const C = 1 + Math.floor(rnd() * 6);
      const open = new Map<string, number>(); // the model: lease id -> expiry
      const settleable = new Set<string>(); // open leases whose holder has not settled or crashed
      let now = base + seed * 10 * TTL;
      let newestAdded = 0;
      for (let step = 0; step < 300; step++) {
        now += Math.floor(rnd() * rnd() * TTL * 0.4);
        const old = rnd() < 0.5;
        if (rnd() < 0.6 || settleable.size === 0) {
          const id = `s${seed}-${step}`;
          const live = [...open.values()].filter((e) => e > now).length;
          const r = await acquire(old ? oldAcquire(C) : newAcquire(C), now, id);
          expect(r.admitted, `step ${step} (${old ? 'old' : 'new'})`).toBe(live < C);
          if (r.admitted) {
            expect(r.leases, `step ${step}`).toBe(live + 1);
            open.set(id, r.leaseExp);
            settleable.add(id);
            newestAdded = Math.max(newestAdded, r.leaseExp);
          }
        } else {
          // Settle an open lease, or its holder crashed (one in five): never settled, it
          // stays counted until it expires.
          const ids = [...settleable];
          const id = ids[Math.floor(rnd() * ids.length)]!;
          settleable.delete(id);
          if (rnd() < 0.8) {
            open.delete(id);
            await expireAt(now);
            await db.redis.callBuffer(
              'EVAL',
              clocked(old ? oldSettle(C) : newSettle(C)),
              2,
              RL,
              LEASE,
              ...clockArgs(now),
              id,
              0,
              0,
              0,
            );
          }
        }
        for (const [id, e] of open) {
          if (e <= now) {
            open.delete(id);
            settleable.delete(id);
          }
        }
        await expectKeyCoversLeases(newestAdded);
      }
    }
  });
});

describe('lease horizons and the enforcement TTL', () => {
  // A refusal while two leases are open writes the state with the horizons; the state must
  // still lapse when the templates' rule says (a ban after banTtlMs, a score after ten
  // half-lives): the horizons are worth keeping only in a state that holds nothing else.
  // warningAt, throttledAt, blockedAt, bannedAt, halfLifeMs, blockMs, throttleFactor, refusalWeight, banTtlMs
  const cases: [string, number[]][] = [
    ['a ban', [1, 1, 1, 1, 600_000, 60_000, 1, 1, 1_000]],
    ['a score', [1, 2, 3, 4, 100, 60_000, 1, 1, 86_400_000]],
  ];
  for (const [what, enf] of cases) {
    it(`${what} set by a refusal with leases open lapses when it did before`, async () => {
      const values = [...enf, TTL, HUGE, 0, 0, 0, 0, 0, 0, 0, 2];
      const ttlAfterRefusal = async (lua: string): Promise<number> => {
        await db.redis.del(RL, LEASE);
        await acquire(lua, base, 'a');
        await acquire(lua, base + 10, 'b');
        const refused = await acquire(lua, base + 20, 'c');
        expect(refused.admitted).toBe(false);
        return ((await db.redis.call('PEXPIRETIME', RL)) as number) - (base + 20);
      };
      const before = await ttlAfterRefusal(bakedAcquireLua(values, TTL));
      const after = await ttlAfterRefusal(singleAcquireLua(values, TTL));
      expect(before).toBeLessThan(TTL);
      expect(after).toBe(before);
    });
  }
});

describe('a mixed fleet on one subject against a model of its concurrency count', () => {
  // Random interleavings of what every replica and operator may send for one subject: acquires
  // by the straight-line scripts (alone, batched, or as either subject of a pair) and by the
  // general template (what replicas before the horizons ran for every tier), settles and
  // cancels by either, crashed holders, resets, violations, bans and lifts, and status reads.
  // After every step: the decision and count agree with the model, status counts the same
  // leases, and the horizons a state carries are true (no lease expires before hz; the lease
  // key lives at least until ke), so no skipped ZREMRANGEBYSCORE or PEXPIRE was wrong.
  const OTHER_RL = 'llmsec:{o}:rl';
  const OTHER_LEASE = 'llmsec:{o}:lease';
  const WIN = [HUGE, 0, 0, 0, 0, 0, 0, 0];

  async function evalKeys(
    lua: string,
    nowMs: number,
    keys: string[],
    argv: (string | number)[],
  ): Promise<Buffer> {
    await expireAt(nowMs);
    const [reply] = (await db.redis.callBuffer(
      'EVAL',
      clocked(lua),
      keys.length,
      ...keys,
      ...clockArgs(nowMs),
      ...argv,
    )) as Buffer[];
    return reply!;
  }

  async function expectTrueHorizons(): Promise<void> {
    const state = await db.redis.getBuffer(RL);
    if (!state || state.length < STATE_WITH_HORIZONS_BYTES) return;
    const [hz, ke] = [state.readDoubleLE(13 * 8), state.readDoubleLE(14 * 8)];
    const oldest = await db.redis.zrange(LEASE, 0, 0, 'WITHSCORES');
    if (oldest.length === 0) return;
    expect(hz, 'hz above the oldest lease').toBeLessThanOrEqual(Number(oldest[1]));
    if (ke > 0)
      expect(
        (await db.redis.call('PEXPIRETIME', LEASE)) as number,
        'key expires before ke',
      ).toBeGreaterThanOrEqual(ke);
  }

  it('random acquires (single, batched, pair, template), settles, cancels, crashes, resets, enforcement writes and status', async () => {
    const kinds = new Map<string, number>();
    for (const seed of [11, 12, 13, 14, 15, 16]) {
      await db.redis.del(RL, LEASE, OTHER_RL, OTHER_LEASE);
      const rnd = prng(seed);
      const C = 1 + Math.floor(rnd() * 5);
      // Thresholds out of reach (violations add score, never a level); a short half-life on
      // some seeds, so a state holding score lapses before its lease key.
      const enf = [1e6, 2e6, 3e6, 4e6, rnd() < 0.5 ? 1_000 : 600_000, 60_000, 1, 0, 86_400_000];
      const one = [...enf, TTL, ...WIN, C];
      const oneSettle = [...enf, 1, ...WIN, C];
      const other = [...WIN, 0];
      const scripts = {
        newOne: singleAcquireLua(one, TTL),
        oldOne: bakedAcquireLua(one, TTL),
        newBatch: batchedLua(singleAcquireLua(one, TTL), 2, 3),
        newPairFirst: pairAcquireLua([...enf, TTL, ...WIN, C, ...other], TTL),
        newPairSecond: pairAcquireLua([...enf, TTL, ...other, ...WIN, C], TTL),
        oldPairFirst: bakedAcquireLua([...enf, TTL, ...WIN, C, ...other], TTL),
        newSettle: singleSettleLua(oneSettle),
        oldSettle: bakedSettleLua(oneSettle),
        newPairSettle: pairSettleLua([...enf, 1, ...WIN, C, 1, ...other]),
      };
      const open = new Map<string, number>(); // the model: lease id -> expiry
      const settleable = new Set<string>();
      let banned = false;
      let now = base + seed * 10 * TTL;
      let newestAdded = 0;
      let id = 0;
      const live = () => [...open.values()].filter((e) => e > now).length;
      const admitted = (kind: string, leaseExp: number, leases: number, ok: boolean, expectOk: boolean) => {
        const at = `seed ${seed} ${kind} at ${now - base}`;
        expect(ok, at).toBe(expectOk);
        if (!ok) return;
        expect(leases, at).toBe(live() + 1);
        const lid = `l${id}`;
        open.set(lid, leaseExp);
        settleable.add(lid);
        newestAdded = Math.max(newestAdded, leaseExp);
      };
      for (let step = 0; step < 400; step++) {
        now += Math.floor(rnd() * rnd() * TTL * 0.3);
        for (const [lid, e] of open) if (e <= now) (open.delete(lid), settleable.delete(lid));
        const r = rnd();
        let kind: string;
        if (r < 0.45) {
          const which = (['newOne', 'oldOne', 'newPairFirst', 'newPairSecond', 'oldPairFirst'] as const)[
            Math.floor(rnd() * 5)
          ]!;
          kind = which;
          id++;
          const expectOk = !banned && live() < C;
          if (which === 'newOne' || which === 'oldOne') {
            const o = parseOneSubject(await evalKeys(scripts[which], now, [RL, LEASE], [`l${id}`, 0, 0]));
            admitted(kind, o.leaseExpiresAtMs, o.subjects[0]!.leases, o.code === 0, expectOk);
          } else {
            const second = which === 'newPairSecond';
            const keys = second ? [OTHER_RL, OTHER_LEASE, RL, LEASE] : [RL, LEASE, OTHER_RL, OTHER_LEASE];
            const o = parseTwoSubjects(await evalKeys(scripts[which], now, keys, [`l${id}`, 0, 0]));
            admitted(kind, o.leaseExpiresAtMs, o.subjects[second ? 1 : 0]!.leases, o.code === 0, expectOk);
          }
        } else if (r < 0.52) {
          // Two acquires coalesced into one batched script: sequential, one clock.
          kind = 'newBatch';
          const ids = [`l${++id}`, `l${++id}`];
          const reply = await evalKeys(
            scripts.newBatch,
            now,
            [RL, LEASE, RL, LEASE],
            [ids[0]!, 0, 0, ids[1]!, 0, 0],
          );
          for (const [i, part] of splitBatchReply(reply, 2).entries()) {
            expect(part.ok).toBe(true);
            if (!part.ok) continue;
            const o = parseOneSubject(part.reply);
            id = Number(ids[i]!.slice(1));
            admitted(kind, o.leaseExpiresAtMs, o.subjects[0]!.leases, o.code === 0, !banned && live() < C);
          }
        } else if (r < 0.75 && settleable.size > 0) {
          // Settle or cancel (a request charged, refunded or neither), or the holder crashed.
          const ids = [...settleable];
          const lid = ids[Math.floor(rnd() * ids.length)]!;
          settleable.delete(lid);
          kind = 'crash';
          if (rnd() < 0.8) {
            open.delete(lid);
            const rq = [0, 1, -1][Math.floor(rnd() * 3)]!;
            const pick = (['newSettle', 'oldSettle', 'newPairSettle'] as const)[Math.floor(rnd() * 3)]!;
            kind = pick;
            const keys = pick === 'newPairSettle' ? [RL, LEASE, OTHER_RL, OTHER_LEASE] : [RL, LEASE];
            await evalKeys(scripts[pick], now, keys, [lid, rq, 0, 0]);
          }
        } else if (r < 0.8) {
          kind = 'reset';
          await expireAt(now);
          await db.redis.del(RL, LEASE);
          (open.clear(), settleable.clear(), (banned = false), (newestAdded = 0));
        } else if (r < 0.88) {
          kind = 'violation';
          await evalKeys(VIOLATION_LUA, now, [RL], [1 + Math.floor(rnd() * 3), ...enf]);
        } else if (r < 0.92) {
          kind = banned ? 'lift' : 'ban';
          await evalKeys(banned ? LIFT_LUA : BAN_LUA, now, [RL], [0, ...enf]);
          banned = !banned;
        } else {
          kind = 'status';
          const reply = (await db.redis.call(
            'EVAL',
            clocked(SNAPSHOT_LUA).replace(
              "local r = run(KEYS, args)\nif type(r) ~= 'string' then r = tostring(r) end",
              'local r = run(KEYS, args)',
            ),
            2,
            RL,
            LEASE,
            ...clockArgs(now),
            0,
            ...enf,
          )) as [number[], string];
          expect(reply[0][9], `seed ${seed} status leases at ${now - base}`).toBe(live());
          expect(reply[0][12], `seed ${seed} status banned`).toBe(banned ? 1 : 0);
        }
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        await expectKeyCoversLeases(newestAdded);
        await expectTrueHorizons();
      }
    }
    // Every kind of step ran, several times.
    for (const k of [
      'newOne',
      'oldOne',
      'newBatch',
      'newPairFirst',
      'newPairSecond',
      'oldPairFirst',
      'newSettle',
      'oldSettle',
      'newPairSettle',
      'crash',
      'reset',
      'violation',
      'ban',
      'lift',
      'status',
    ])
      expect(kinds.get(k) ?? 0, k).toBeGreaterThan(5);
  });

  it('replicas with different lease TTLs (a deploy changing leaseTtlMs): a shorter lease lowers hz', async () => {
    await db.redis.del(RL, LEASE);
    const longLua = singleAcquireLua([...ENF, 10 * TTL, HUGE, 0, 0, 0, 0, 0, 0, 0, 3], 10 * TTL);
    const short = newAcquire(3);
    await acquire(longLua, base, 'a');
    await acquire(longLua, base + 10, 'b');
    const c = await acquire(short, base + 20, 'c');
    expect(c.admitted).toBe(true);
    expect(c.leaseExp).toBe(base + 20 + TTL);
    // c expired, a and b live: a fourth lease fits.
    const d = await acquire(short, c.leaseExp, 'd');
    expect(d.admitted).toBe(true);
    expect(d.leases).toBe(3);
    expect(await db.redis.zrange(LEASE, 0, -1)).toEqual(['d', 'a', 'b']);
  });
});
