/**
 * The lease-set statements of the straight-line scripts (redis-lua-single.ts) for a tier with
 * a concurrency limit. The lease set (`llmsec:{<subject>}:lease`, lease id -> expiry) is the
 * same sorted set as ever; what is new is two horizons kept in the subject's state string,
 * after its thirteen doubles (15 doubles, 120 bytes; 16 and 128 bytes with the key's expiry
 * after them, redis-lua-expiry.ts), so that an acquire skips the two lease
 * commands that are usually no-ops:
 *
 * - `hz`: no lease in the set expires before hz. While hz > now no lease is due, so
 *   ZREMRANGEBYSCORE (which would remove nothing) is skipped; when one may be due, hz is read
 *   again from the set's oldest entry (ZRANGE 0 0), and only if that one is due the expired
 *   leases are removed as before (and the oldest read again): once per oldest lease, not per
 *   call.
 * - `ke`: the lease key expires at ke (PEXPIREAT, Redis's own clock). A new lease expiring
 *   by ke needs no PEXPIRE. When one does not fit, the key is set to expire a quarter of the
 *   lease TTL after the new lease (LEASE_KEY_SLACK), so a subject with leases open refreshes
 *   it about once per quarter TTL instead of at every acquire. A set whose leases are all
 *   settled is deleted by Redis as before; one holding only leases of crashed holders
 *   lingers at most that quarter TTL past its newest lease (before: not at all).
 *
 * Both are lower bounds that are only ever trusted when true, and 0 means unknown (the full
 * path: ZRANGE, ZREMRANGEBYSCORE if the oldest is due, PEXPIREAT). The state carries them
 * only while another lease than the acquire's own is open (redis-lua-single.ts). Rolling upgrades: a state of 13 doubles (104
 * bytes, written by an older replica, the general template, a tier without a concurrency
 * limit or an enforcement command) reads as unknown. Older scripts unpack the first thirteen
 * doubles of a 120-byte state (struct.unpack ignores the rest) and write 104 bytes back, so
 * every older acquire that adds a lease or shortens the key's TTL also drops the horizons.
 * Redis deleting the key (all settled, expiry, eviction, a reset) is seen by ZCARD = 0 and
 * sets the TTL again. So a mixed fleet counts the same leases, and every lease key lives
 * until its last lease expires (with one leaseTtlMs: a shorter-TTL replica setting the key's
 * expiry while the horizons are unknown can cut a longer lease short, as PEXPIRE did before).
 */

import {
  STATE_WITH_EXPIRY_BYTES,
  STATE_WITH_HORIZONS_AND_EXPIRY,
  STATE_WITH_HORIZONS_AND_EXPIRY_BYTES,
} from './redis-lua-expiry.ts';

/** Lua names of one subject's lease locals and key. */
export interface LeaseVars {
  leases: string;
  /** The state key's expiry (redis-lua-expiry.ts), read here with the horizons. */
  se: string;
  hz: string;
  ke: string;
  lease: string;
}

/** The lease key outlives the lease that set its TTL by this share of the lease TTL. */
export const LEASE_KEY_SLACK = 0.25;

/** Doubles of a state with horizons; bytes of one (`#v >= STATE_WITH_HORIZONS_BYTES`). */
export const STATE_WITH_HORIZONS = 15;
export const STATE_WITH_HORIZONS_BYTES = 8 * STATE_WITH_HORIZONS;

/**
 * Horizons further ahead than this (ms) are not trusted (read as unknown). A horizon this code
 * wrote is at most a lease TTL (hz) or a lease TTL and a quarter (ke) ahead, so this only
 * matters for a value it did not write (an operator's SET, a restore, damage): ke years ahead
 * (or NaN) made every acquire skip the lease key's PEXPIREAT, so a lease key expiring in a
 * moment took its open leases with it (the concurrency limit admitted again), and gave the
 * state key a TTL of years. A constant because settles do not know the lease TTL; a
 * `leaseTtlMs` above about 24 days takes the full path (as every acquire did before the
 * horizons) on every acquire.
 */
export const HORIZON_TRUST_MS = 31 * 86_400_000;

/**
 * Statements reading `v` (the GET reply) into the state's locals, the horizons and the key's
 * expiry (redis-lua-expiry.ts): 15 or 16 doubles when written with horizons, else 13 or 14
 * and both horizons unknown; `se` unknown unless written. Both horizons are read as unknown
 * unless each is at most HORIZON_TRUST_MS ahead of `now` (NaN fails that too).
 */
export function readStateWithHorizons(v: string, state: string, l: LeaseVars): string {
  return `local ${state}, ${l.hz}, ${l.ke}, ${l.se}
if ${v} and #${v} >= ${STATE_WITH_HORIZONS_AND_EXPIRY_BYTES} then ${state}, ${l.hz}, ${l.ke}, ${l.se} = struct.unpack('<${'d'.repeat(STATE_WITH_HORIZONS_AND_EXPIRY)}', ${v})
elseif ${v} and #${v} >= ${STATE_WITH_HORIZONS_BYTES} then ${state}, ${l.hz}, ${l.ke} = struct.unpack('<${'d'.repeat(STATE_WITH_HORIZONS)}', ${v}); ${l.se} = 0
elseif ${v} and #${v} == ${STATE_WITH_EXPIRY_BYTES} then ${state}, ${l.se} = struct.unpack('<dddddddddddddd', ${v}); ${l.hz}, ${l.ke} = 0, 0
elseif ${v} then ${state} = struct.unpack('<ddddddddddddd', ${v}); ${l.hz}, ${l.ke}, ${l.se} = 0, 0, 0
else ${state} = 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0; ${l.hz}, ${l.ke}, ${l.se} = 0, 0, 0 end
if not (${l.hz} - now <= ${HORIZON_TRUST_MS} and ${l.ke} - now <= ${HORIZON_TRUST_MS}) then ${l.hz}, ${l.ke} = 0, 0 end`;
}

/**
 * Statements setting `leases` to the number of live leases: ZCARD, and only when a lease may
 * be due (hz <= now) the oldest lease (ZRANGE 0 0): if it is still live it is the new hz and
 * nothing is removed; else the same removal as before (`score <= now`) and the oldest
 * remaining one read for hz.
 */
export function countLeases(l: LeaseVars): string {
  const oldest = `tonumber(redis.call('ZRANGE', ${l.lease}, 0, 0, 'WITHSCORES')[2])`;
  return `${l.leases} = redis.call('ZCARD', ${l.lease})
if ${l.leases} > 0 and ${l.hz} <= now then
  ${l.hz} = ${oldest}
  if ${l.hz} <= now then
    ${l.leases} = ${l.leases} - redis.call('ZREMRANGEBYSCORE', ${l.lease}, '-inf', now)
    if ${l.leases} > 0 then ${l.hz} = ${oldest} end
  end
end`;
}

/**
 * The per-batch statements (redis-lua-batch.ts's BATCH_PRELUDE_END) of an acquire script:
 * `leaseExp`, the lease's expiry, and for a tier with a concurrency limit `leaseExpS`, the same
 * integer as the string ZADD is sent. A Lua number as a redis.call argument is formatted by
 * Redis's Lua bridge with %.17g at every call (ZADD 1.52 against 1.17 µs with a string score,
 * bench/ratelimit/call-cost.ts); every call of a batch reads the same clock, so it is
 * formatted once per batch. `%.0f` of an integer below 1e17 (every reachable expiry: the clock
 * plus a leaseTtlMs up to 2^53) is the text %.17g gives it: Redis receives the same argument.
 * Not `%d`: Redis's Lua 5.1 converts its argument to a C long, 32 bits on a 32-bit build or an
 * LLP64 port, where an epoch in ms overflows (every lease scored in the past). `%.0f` costs
 * 0.70 µs against 0.32 for `%d` (10^6 formats in one EVAL, Redis 7.0.15), once per batch.
 */
export function leaseExpiry(leaseTtl: string, withLease: boolean): string {
  return `local leaseExp = math.floor(now + ${leaseTtl})
${withLease ? "local leaseExpS = string.format('%.0f', leaseExp)\n" : ''}`;
}

/**
 * Statements adding the lease (id `idArg`, expiry `leaseExp`, as a string `leaseExpS`:
 * leaseExpiry) after `countLeases`: ZADD, hz
 * lowered to it if earlier, and the key's TTL. A new key (no live lease before) gets the
 * relative PEXPIRE of before (a literal: no number to format) and ke unknown, so a subject
 * whose leases are settled before the next acquire (its set deleted each time) pays what it
 * paid before; the first acquire that finds live leases sets ke with PEXPIREAT a quarter TTL
 * past its lease, and later ones skip it while their lease expires by ke.
 */
export function addLease(l: LeaseVars, idArg: string, leaseTtlMs: number): string {
  const ttl = String(Math.ceil(leaseTtlMs));
  const slack = String(Math.ceil(leaseTtlMs * LEASE_KEY_SLACK));
  return `redis.call('ZADD', ${l.lease}, leaseExpS, ${idArg})
  if ${l.leases} == 0 then
    ${l.hz} = leaseExp
    ${l.ke} = 0
    redis.call('PEXPIRE', ${l.lease}, '${ttl}')
  else
    if leaseExp < ${l.hz} then ${l.hz} = leaseExp end
    if ${l.ke} < leaseExp then
      ${l.ke} = leaseExp + ${slack}
      redis.call('PEXPIREAT', ${l.lease}, ${l.ke})
    end
  end
  ${l.leases} = ${l.leases} + 1`;
}
