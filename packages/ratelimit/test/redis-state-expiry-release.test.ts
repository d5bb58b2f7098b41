// The state key's kept TTL (redis-lua-expiry.ts) in a fleet mixing this release's replicas
// with the previous release's (82f379a, before se: it writes 13 or 15 doubles with SET PX and
// reads the first 13 or 15 of a longer state). Not simulated writes: the previous release's
// own RateLimiter and RedisStore, loaded from a checkout of it (LLMSEC_PREVIOUS_RELEASE, default
// /tmp/base82; skipped, saying so, when absent), on the same Redis as this release's.
//
// Random acquires (alone and same-tick batches), settles larger and smaller than the estimate,
// leases left open, refusals, idle gaps and a tier change (limits lowered, concurrency dropped)
// by either release, on four subjects. After every step, for every subject, on Redis's clock:
// the state key never disappears while a bucket it last held is undrained, nor, holding no
// enforcement with horizons, before its lease key's recorded expiry; a key present has a TTL
// that covers both. A key kept by a TTL an older write shortened would fail here.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { rlKey } from '../src/keys.ts';
import { RateLimiter } from '../src/limiter.ts';
import { RedisStore } from '../src/redis-store.ts';
import type { Lease } from '../src/types.ts';
import { prng } from './lua-trials.ts';

const PREVIOUS = process.env.LLMSEC_PREVIOUS_RELEASE ?? '/tmp/base82';
const previousIndex = join(PREVIOUS, 'packages/ratelimit/src/index.ts');
const havePrevious = existsSync(previousIndex);

const db = useRedis();

interface Limiter {
  acquire(req: { subject: string; estimatedTokens: number }): Promise<{ allowed: boolean; lease?: Lease }>;
  settle(lease: Lease, actual: { tokens: number }): Promise<unknown>;
}

/**
 * Redis's clock, the key's absolute expiry (PEXPIRETIME, ms; -1 none) and its state. Not TIME +
 * PTTL: within one EXEC each reads the clock when it runs, and a redis-server descheduled
 * between the two (2 cores at load 12) made TIME + PTTL fall short of an unchanged key's
 * expiry by the pause (a state no command wrote between two checks: 7.5 ms less at the second,
 * failing by 6.8 ms; 20.6 ms in another run).
 */
async function read(key: string): Promise<{ now: number; expireAt: number; state: Buffer | null }> {
  const r = (await db.redis.multi().time().call('PEXPIRETIME', key).getBuffer(key).exec())!;
  const [s, us] = r[0]![1] as [string, string];
  return {
    now: Number(s) * 1000 + Number(us) / 1000,
    expireAt: r[1]![1] as number,
    state: r[2]![1] as Buffer | null,
  };
}

const doubles = (b: Buffer): number[] =>
  Array.from({ length: Math.floor(b.length / 8) }, (_, i) => b.readDoubleLE(8 * i));

describe.skipIf(!havePrevious)(`a fleet with the previous release (${PREVIOUS})`, () => {
  it('the state key outlives its buckets and lease horizon whichever release wrote it', async () => {
    const prev = (await import(/* @vite-ignore */ previousIndex)) as {
      RateLimiter: new (o: object) => Limiter;
      RedisStore: new (o: object) => object;
    };
    // Tier change: the same tier name, limits lowered and the concurrency limit dropped.
    // Minute windows so that states drain, and keys expire, within the run.
    const high = { requestsPerMinute: 600, tokensPerMinute: 3_000_000, concurrent: 3 };
    const low = { requestsPerMinute: 120, tokensPerMinute: 600_000 };
    const make = (old: boolean, tier: object): Limiter => {
      // Refusals add no score here (a score keeps the exact TTL, tested elsewhere): the run is
      // about states that take the kept TTL.
      const o = {
        tiers: { t: tier },
        commandTimeoutMs: 2_000,
        failurePolicy: 'closed' as const,
        leaseTtlMs: 1_500,
        enforcement: { refusalWeight: 0 },
      };
      return old
        ? new prev.RateLimiter({ ...o, store: new prev.RedisStore({ client: db.redis }) })
        : (new RateLimiter({ ...o, store: new RedisStore({ client: db.redis }) }) as Limiter);
    };
    const fleet = [make(false, high), make(true, high), make(false, low), make(true, low)];
    const owner = new Map<Lease, Limiter>();
    const subjects = ['a', 'b', 'c', 'd'];
    // Per subject: when its buckets drain as last read, so a key gone before then, with no
    // write to it since, lost state.
    const mustLive = new Map<string, number>();
    const open: Lease[] = [];
    const writers = new Set<number>();
    // What the run covered: keys gone after holding state, states kept by se, older layouts.
    const seen = { expired: 0, withSe: 0, older: 0 };
    const rnd = prng(82);
    for (let step = 0; step < 250; step++) {
      const x = rnd();
      const written = new Set<string>(); // subjects this step wrote
      if (x < 0.45) {
        const i = Math.floor(rnd() * fleet.length);
        const lim = fleet[i]!;
        writers.add(i);
        // One to three acquires in the same tick: the new release batches them in one script.
        const n = 1 + Math.floor(rnd() * 3);
        const rs = await Promise.all(
          Array.from({ length: n }, () => {
            const subject = subjects[Math.floor(rnd() * subjects.length)]!;
            written.add(subject);
            return lim.acquire({ subject, estimatedTokens: 1 + Math.floor(rnd() * 4_000) });
          }),
        );
        for (const r of rs)
          if (r.lease) {
            open.push(r.lease);
            owner.set(r.lease, lim);
          }
      } else if (x < 0.8 && open.length > 0) {
        const lease = open.splice(Math.floor(rnd() * open.length), 1)[0]!;
        written.add(lease.subject);
        // Actual cost up to twice the estimate: refunds and extra charges.
        await owner.get(lease)!.settle(lease, { tokens: Math.floor(rnd() * 8_000) });
      } else if (x < 0.985) {
        await new Promise((r) => setTimeout(r, Math.floor(rnd() * rnd() * 400)));
      } else {
        // Long enough idle for states to drain and keys to expire (a second of slack, leases of 1.5 s).
        await new Promise((r) => setTimeout(r, 2_600));
      }
      for (const subject of subjects) {
        const { now, expireAt, state } = await read(rlKey(subject));
        const at = `step ${step} subject ${subject}`;
        const need = mustLive.get(subject) ?? 0;
        if (!state) {
          // PTTL is whole ms; the TATs are fractional. A subject written this step was checked
          // by the TTL its write set (below, or gone with a need that write lowered).
          if (!written.has(subject)) {
            expect(now, `${at}: the key expired before its buckets drained`).toBeGreaterThanOrEqual(need - 1);
            if (need > 0) seen.expired++;
          }
          mustLive.delete(subject);
          continue;
        }
        const d = doubles(state);
        if (state.length === 104 || state.length === 120) seen.older++;
        else if (d[d.length - 1] !== 0) seen.withSe++;
        const enforced = d[8] !== 0 || d[10]! > now || d[11] === 1 || d[12] !== 0;
        const drained = Math.max(...d.slice(0, 8));
        let live = drained;
        if (state.length >= 120 && !enforced) live = Math.max(live, d[14]!);
        // -1 would be a key without a TTL. The expiry is whole ms (the PX base is the ms clock),
        // the TATs fractional: one ms of slack.
        expect(expireAt, `${at}: the key has a TTL`).toBeGreaterThan(0);
        expect(
          expireAt,
          `${at}: the TTL ends before the state's need (${state.length} bytes)`,
        ).toBeGreaterThanOrEqual(live - 1);
        // Only the buckets bind later (a write without horizons, of a tier without concurrency
        // or an older narrow one, rightly drops the lease key's expiry from the state's need),
        // and only until the next write (a refund lowers them).
        mustLive.set(subject, drained);
      }
    }
    expect(writers.size).toBe(4);
    expect(seen.expired, JSON.stringify(seen)).toBeGreaterThan(3);
    expect(seen.withSe, JSON.stringify(seen)).toBeGreaterThan(50);
    expect(seen.older, JSON.stringify(seen)).toBeGreaterThan(50);
  });
});

describe.runIf(!havePrevious)('a fleet with the previous release', () => {
  it.skip(`needs a checkout of the previous release at ${PREVIOUS} (LLMSEC_PREVIOUS_RELEASE)`, () => {});
});
