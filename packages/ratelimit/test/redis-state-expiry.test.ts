// The state key's TTL kept across writes (redis-lua-expiry.ts), on a real redis-server and its
// own clock: the key never expires before its buckets drain (whatever mix of acquires, settles,
// leases left open, refusals and older replicas' writes came before), and outlives them by at
// most a quarter plus STATE_EXPIRY_SLACK_MS; a write its TTL covers keeps it (KEEPTTL); a
// write by an older replica (the thirteen doubles with an exact PX, no expiry) makes the next
// write set the TTL again; a state holding enforcement gets the templates' exact TTL.
import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { leaseKey, rlKey } from '../src/keys.ts';
import { RateLimiter } from '../src/limiter.ts';
import { RedisStore } from '../src/redis-store.ts';
import { STATE_EXPIRY_SLACK_MS, STATE_WITH_EXPIRY_BYTES } from '../src/redis-lua-expiry.ts';
import type { Lease } from '../src/types.ts';
import { prng } from './lua-trials.ts';

const db = useRedis();

/** Redis's clock (ms), the key's absolute expiry (ms, -1 none) and the state, read atomically. */
async function read(key: string): Promise<{ now: number; expiry: number; state: Buffer | null }> {
  const r = (await db.redis.multi().time().pttl(key).getBuffer(key).exec())!;
  const [s, us] = r[0]![1] as [string, string];
  const now = Number(s) * 1000 + Number(us) / 1000;
  const pttl = r[1]![1] as number;
  return { now, expiry: pttl < 0 ? pttl : now + pttl, state: r[2]![1] as Buffer | null };
}

const doubles = (b: Buffer): number[] =>
  Array.from({ length: Math.floor(b.length / 8) }, (_, i) => b.readDoubleLE(8 * i));
/** When the last bucket of the state drains (its largest TAT). */
const drained = (d: number[]): number => Math.max(...d.slice(0, 8));
/** Score, blocked-until, banned, level: the state holds enforcement (the exact TTL rule). */
const enforced = (d: number[], now: number): boolean =>
  d[8] !== 0 || d[10]! > now || d[11] === 1 || d[12] !== 0;

const limiter = (tier: object): RateLimiter =>
  new RateLimiter({
    store: new RedisStore({ client: db.redis }),
    tiers: { t: tier },
    commandTimeoutMs: 2_000,
  });

describe("the state key's TTL kept across writes", () => {
  it('the key outlives its buckets, by at most a quarter plus the slack, over random acquires, settles, refusals and older writes', async () => {
    const rnd = prng(13);
    const lim = limiter({
      requestsPerMinute: 1_000,
      tokensPerHour: 2_000_000,
      tokensPerDay: 20_000_000,
      concurrent: 3,
    });
    const subjects = ['a', 'b', 'c', 'd', 'e', 'f'];
    const open: Lease[] = [];
    const start = (await read('none')).now;
    let kept = 0;
    const latest = new Map<string, number>();
    for (let step = 0; step < 300; step++) {
      let subject = subjects[Math.floor(rnd() * subjects.length)]!;
      const x = rnd();
      if (x < 0.5) {
        const r = await lim.acquire({ subject, estimatedTokens: 1 + Math.floor(rnd() * 20_000) });
        if (r.lease) open.push(r.lease);
      } else if (x < 0.85 && open.length > 0) {
        const lease = open.splice(Math.floor(rnd() * open.length), 1)[0]!;
        // The state written is the lease's subject's: the one read below.
        subject = lease.subject;
        await lim.settle(lease, { tokens: Math.floor(rnd() * 30_000) });
      } else if (x < 0.95) {
        // An older replica's write: the thirteen doubles it read, with the exact TTL it computes.
        const { now, state } = await read(rlKey(subject));
        if (state) {
          const d = doubles(state).slice(0, 13);
          const ttl = Math.max(1, Math.ceil(drained(d) - now));
          const b = Buffer.alloc(104);
          d.forEach((v, i) => b.writeDoubleLE(v, 8 * i));
          if (!enforced(d, now)) await db.redis.set(rlKey(subject), b, 'PX', ttl);
        }
      } else {
        await new Promise((r) => setTimeout(r, Math.floor(rnd() * 5)));
      }
      const { now, expiry, state } = await read(rlKey(subject));
      if (!state) continue;
      const d = doubles(state);
      expect(expiry, `step ${step}: the key has a TTL`).toBeGreaterThan(0);
      // PTTL is whole milliseconds, rounded down.
      expect(expiry, `step ${step}: expires before its buckets drain`).toBeGreaterThanOrEqual(drained(d) - 1);
      if (state.length >= 120 && !enforced(d, now)) {
        // With horizons, a state holding no enforcement lives as long as its lease key (ke).
        expect(expiry, `step ${step}: expires before its lease key`).toBeGreaterThanOrEqual(d[14]! - 1);
      }
      // The latest time this subject's state had to live to: its buckets, and with leases
      // open its lease key's expiry (ke, a state with horizons lives as long).
      const need = Math.max(drained(d), state.length >= 120 ? d[14]! : 0, latest.get(subject) ?? 0);
      latest.set(subject, need);
      if (state.length === STATE_WITH_EXPIRY_BYTES || state.length === 128) {
        const se = d[d.length - 1]!;
        if (se !== 0) {
          // The recorded expiry is a lower bound of the real one.
          expect(se, `step ${step}: se`).toBeLessThanOrEqual(expiry + 1);
          kept++;
        }
        if (!enforced(d, now)) {
          // Every TTL was set at some write with at most a quarter of that write's need plus
          // the slack; kept, it may outlive a need that shrank since (a refund, leases settled).
          expect(expiry - need, `step ${step}: slack`).toBeLessThanOrEqual(
            (need - start) / 4 + STATE_EXPIRY_SLACK_MS + 2,
          );
        }
      }
    }
    // The expiry was recorded (and so trusted) on many steps; refusals (concurrency) put the
    // rest under the exact enforcement TTL.
    expect(kept).toBeGreaterThan(80);
  });

  it('keeps the TTL while it covers the need, sets it again after an older replica wrote the state', async () => {
    const lim = limiter({ tokensPerDay: 1_000_000 });
    const key = rlKey('keep');
    // 1,000 tokens of 1,000,000 a day: the bucket drains 86.4 s from now.
    await lim.acquire({ subject: 'keep', estimatedTokens: 1_000 });
    const first = await read(key);
    expect(first.state!.length).toBe(STATE_WITH_EXPIRY_BYTES);
    const need = drained(doubles(first.state!)) - first.now;
    expect(first.expiry - first.now).toBeGreaterThan(need * 1.25 + STATE_EXPIRY_SLACK_MS - 50);
    expect(first.expiry - first.now).toBeLessThan(need * 1.25 + STATE_EXPIRY_SLACK_MS + 50);
    // 10 tokens more need 0.9 s more, well inside: the key keeps its expiry.
    await new Promise((r) => setTimeout(r, 20));
    await lim.acquire({ subject: 'keep', estimatedTokens: 10 });
    const second = await read(key);
    expect(Math.abs(second.expiry - first.expiry)).toBeLessThanOrEqual(2);
    // An older replica writes the thirteen doubles with its exact TTL: no expiry recorded.
    const d = doubles(second.state!).slice(0, 13);
    const b = Buffer.alloc(104);
    d.forEach((v, i) => b.writeDoubleLE(v, 8 * i));
    await db.redis.set(key, b, 'PX', Math.ceil(drained(d) - second.now));
    await lim.acquire({ subject: 'keep', estimatedTokens: 10 });
    const third = await read(key);
    expect(third.state!.length).toBe(STATE_WITH_EXPIRY_BYTES);
    const need3 = drained(doubles(third.state!)) - third.now;
    // Set again, with the slack: later than the older replica's exact TTL by about a quarter.
    expect(third.expiry - third.now).toBeGreaterThan(need3 * 1.25 + STATE_EXPIRY_SLACK_MS - 50);
  });

  it('after a settle refunds most of an estimate, the TTL is set again to the smaller need', async () => {
    const lim = limiter({ tokensPerDay: 1_000_000, concurrent: 2 });
    const key = rlKey('refund');
    // 400,000 tokens of 1,000,000 a day reserved: 9.6 hours of need, a TTL of 12 hours.
    const r = await lim.acquire({ subject: 'refund', estimatedTokens: 400_000 });
    const before = await read(key);
    expect(before.expiry - before.now).toBeGreaterThan(10 * 3_600_000);
    // Settled at 1,000: the need shrinks to 86 s. Kept, the idle key would hold 12 hours.
    await lim.settle(r.lease!, { tokens: 1_000 });
    const after = await read(key);
    const need = drained(doubles(after.state!)) - after.now;
    expect(need).toBeLessThan(90_000);
    expect(after.expiry).toBeGreaterThanOrEqual(after.now + need - 1);
    // At most 1.5 times the need plus twice the slack past it (keepOrExtend's bound).
    expect(after.expiry - after.now - need).toBeLessThanOrEqual(1.5 * need + 2 * STATE_EXPIRY_SLACK_MS + 2);
  });

  it('a state holding enforcement gets the exact TTL and records no expiry', async () => {
    const lim = limiter({ requestsPerMinute: 1 });
    const key = rlKey('enf');
    expect((await lim.acquire({ subject: 'enf', estimatedTokens: 0 })).allowed).toBe(true);
    // Refused: a violation point (refusalWeight 1), so the state holds a score.
    expect((await lim.acquire({ subject: 'enf', estimatedTokens: 0 })).allowed).toBe(false);
    const { now, expiry, state } = await read(key);
    const d = doubles(state!);
    expect(d[8]).toBeGreaterThan(0);
    expect(d[d.length - 1]).toBe(0);
    // The templates' rule: ten half-lives (default 600,000 ms) while a score is held.
    expect(Math.abs(expiry - now - 6_000_000)).toBeLessThan(50);
  });
});

describe("a damaged or hostile state's recorded expiry", () => {
  // `se` is read back from the stored value, so anything that wrote the key other than these
  // scripts (an operator's SET or PERSIST, a restore, a bug) can leave it far from the key's
  // real expiry. A write must then set the TTL again, as every write did before se: a key kept
  // immortal, or expiring with buckets still holding debt (over-admission), is not acceptable.
  const NEED_TOKENS = 1_000; // of 1,000,000 a day: the bucket drains 86.4 s after the acquire
  const YEARS = 10 * 365 * 86_400_000;
  const cases: { name: string; se: (now: number) => number; pttl: number | 'persist'; extra?: number }[] = [
    { name: 'se ten years ahead, the key made persistent', se: (now) => now + YEARS, pttl: 'persist' },
    { name: 'se ten years ahead, the key expiring in 50 ms', se: (now) => now + YEARS, pttl: 50 },
    { name: 'se +Infinity, the key expiring in 50 ms', se: () => Infinity, pttl: 50 },
    { name: 'se NaN, the key expiring in 50 ms', se: () => NaN, pttl: 50 },
    {
      name: 'se ten years ahead and two extra doubles, expiring in 50 ms',
      se: (now) => now + YEARS,
      pttl: 50,
      extra: 2,
    },
  ];
  // The lease horizons come from the same string (redis-lua-lease.ts): a ke (when the lease
  // key expires) years ahead, or NaN, made the acquire skip the lease key's PEXPIREAT, so a
  // lease key about to expire took the open leases with it (the concurrency limit admitted
  // again), and gave the state key a TTL of years.
  for (const ke of [YEARS, NaN]) {
    it(`a lease horizon ke ${Number.isNaN(ke) ? 'NaN' : 'ten years ahead'}: the lease key and the state keep true TTLs`, async () => {
      const lim = limiter({ requestsPerMinute: 1_000, concurrent: 3 });
      // Two leases, the horizon damaged, the lease key left `windowMs` to live, a third lease.
      const run = async (windowMs: number) => {
        const subject = `hostile-ke-${ke}-${windowMs}`;
        await lim.acquire({ subject, estimatedTokens: 0 });
        await lim.acquire({ subject, estimatedTokens: 0 });
        const first = await read(rlKey(subject));
        const d = doubles(first.state!);
        expect(d).toHaveLength(16);
        d[14] = first.now + ke;
        const b = Buffer.alloc(8 * d.length);
        d.forEach((x, i) => b.writeDoubleLE(x, 8 * i));
        await db.redis.set(rlKey(subject), b, 'PX', 60_000);
        const sent = Date.now();
        await db.redis.pexpire(leaseKey(subject), windowMs);
        const third = await lim.acquire({ subject, estimatedTokens: 0 });
        return { subject, third, inTime: Date.now() - sent < windowMs - 2 };
      };
      // The third acquire must come before the lease key expires, or the key is gone with its
      // leases whatever the acquire does: a run that a stalled host held up past the window
      // (one of 50 ms) says nothing and is done again with a longer one.
      let windowMs = 0;
      let kept: Awaited<ReturnType<typeof run>> | undefined;
      for (windowMs of [50, 1_000, 10_000]) if ((kept = await run(windowMs)).inTime) break;
      expect(kept!.inTime, 'a run whose acquire came within the window').toBe(true);
      const { subject, third } = kept!;
      expect(third.allowed).toBe(true);
      // The third lease expires 120 s from now (leaseTtlMs): the lease key must outlive it.
      expect(await db.redis.pttl(leaseKey(subject))).toBeGreaterThan(119_000);
      const after = await read(rlKey(subject));
      expect(
        after.expiry - after.now,
        'the state key lives about as long as its lease key (no score yet)',
      ).toBeLessThan(10 * 60_000);
      await new Promise((r) => setTimeout(r, windowMs + 30));
      expect((await lim.acquire({ subject, estimatedTokens: 0 })).allowed, 'a fourth lease of 3').toBe(false);
    });
  }

  for (const wide of [false, true]) {
    for (const c of cases) {
      it(`${wide ? 'with' : 'without'} a concurrency limit: ${c.name}`, async () => {
        const subject = `hostile-${wide}-${c.name}`;
        const key = rlKey(subject);
        const lim = limiter(wide ? { tokensPerDay: 1_000_000, concurrent: 5 } : { tokensPerDay: 1_000_000 });
        // Two leases held, so the wide form writes its horizons (128 bytes).
        await lim.acquire({ subject, estimatedTokens: NEED_TOKENS });
        await lim.acquire({ subject, estimatedTokens: NEED_TOKENS });
        const first = await read(key);
        const d = doubles(first.state!);
        expect(first.state!.length).toBe(wide ? 128 : STATE_WITH_EXPIRY_BYTES);
        // The damage: se replaced (and maybe doubles appended), the key's TTL changed.
        d[d.length - 1] = c.se(first.now);
        for (let i = 0; i < (c.extra ?? 0); i++) d.push(first.now + YEARS);
        const b = Buffer.alloc(8 * d.length);
        d.forEach((x, i) => b.writeDoubleLE(x, 8 * i));
        if (c.pttl === 'persist') await db.redis.set(key, b);
        else await db.redis.set(key, b, 'PX', c.pttl);
        // Redis's clock before the write: the write happened between it and the read below.
        const { now: beforeWrite } = await read(key);
        await lim.acquire({ subject, estimatedTokens: 10 });
        const after = await read(key);
        const need = drained(doubles(after.state!)) - after.now;
        expect(after.expiry, 'the key has a TTL again').toBeGreaterThan(0);
        expect(after.expiry, 'the key outlives its buckets').toBeGreaterThanOrEqual(
          drained(doubles(after.state!)) - 1,
        );
        // Set again by this write: the need plus a quarter plus the slack (the lease key's
        // expiry, which the wide form also covers, is earlier than the 173 s bucket). The TTL
        // was 1.25 x the need at the write; both shrank by the time to this read, the need's
        // quarter not, hence the quarter of that time (bounded by the clock read before the
        // write), rather than a fixed margin that a loaded host outlasted.
        const sinceWrite = after.now - beforeWrite;
        expect(after.expiry - after.now).toBeLessThanOrEqual(
          need * 1.25 + STATE_EXPIRY_SLACK_MS + 0.25 * sinceWrite + 50,
        );
      });
    }
  }
});
