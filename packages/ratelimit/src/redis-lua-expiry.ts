/**
 * The state key's TTL kept across writes (issue 13, seventh round). Every write of a subject's
 * state used to set its TTL (`SET … PX ttl`), and a SET with a TTL costs Redis about 1.4 µs
 * inside a script against 0.7 with KEEPTTL (bench/ratelimit/call-cost.ts: the Lua number is
 * formatted, the expiry dictionary updated, and Redis 7.0 rewrites PX as PXAT for
 * propagation). So a state holding no enforcement now records `se`, a lower bound of when its
 * key expires (Redis's clock, ms), as its last double, and a write whose needed TTL it covers
 * keeps the key's TTL. When it does not, the TTL is set to the needed one plus a quarter plus
 * STATE_EXPIRY_SLACK_MS, so the next writes of a busy subject fit under it. An idle subject's
 * key thus lives up to that much longer than its buckets take to drain; after a settle that
 * refunded part of an estimate (the need shrank, the TTL kept while se is at most twice the TTL
 * this write would set: keepOrExtend) up to 1.5 times the need plus twice the slack (it is
 * equivalent to a fresh one by then either way; only memory is held).
 *
 * - `se` is only trusted when this code wrote it: it is written as `now + ttl - 1`, `now` being
 *   the script's TIME reading. Redis adds a PX to its own clock at the SET (7.0) or to the
 *   script's start (7.2 on), at most a few µs before TIME is read at the top of the script or
 *   batch; the millisecond covers that, so the key expires at or after `se`. A state holding
 *   a ban, block or score keeps the templates' exact TTL and writes `se` 0 (unknown):
 *   enforcement lapses exactly when it did before.
 * - Layouts: the thirteen doubles (104 bytes), plus the lease horizons (redis-lua-lease.ts:
 *   120), plus `se` after either (112 or 128 bytes). Older scripts and the templates read the
 *   first thirteen (or fifteen) doubles and write 104 (or 120) bytes back, so every write that
 *   does not know `se` drops it and the next write of this code sets a TTL again: a mixed
 *   fleet never keeps a TTL it did not set.
 */

/** Doubles and bytes of a state with its expiry: after the thirteen, or after the horizons. */
export const STATE_WITH_EXPIRY_BYTES = 8 * 14;
export const STATE_WITH_HORIZONS_AND_EXPIRY = 16;
export const STATE_WITH_HORIZONS_AND_EXPIRY_BYTES = 8 * STATE_WITH_HORIZONS_AND_EXPIRY;

/** Added to a quarter of the needed TTL when the TTL is set (ms). */
export const STATE_EXPIRY_SLACK_MS = 1_000;

/**
 * Statements reading `v` (the GET reply) into the state's locals and `se`, for a tier
 * without a concurrency limit (a 120- or 128-byte state, left by a tier that had one, reads
 * as its thirteen doubles and `se` unknown).
 */
export function readNarrowState(v: string, state: string, se: string): string {
  return `local ${state}, ${se}
if ${v} and #${v} == ${STATE_WITH_EXPIRY_BYTES} then ${state}, ${se} = struct.unpack('<dddddddddddddd', ${v})
elseif ${v} then ${state} = struct.unpack('<ddddddddddddd', ${v}); ${se} = 0
else ${state} = 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0; ${se} = 0 end`;
}

/**
 * Statements run after `ttl` (whole ms, at least 1) is computed, `exact` true when it is the
 * enforcement TTL: set `keep` (the key's TTL covers it: write with KEEPTTL) or raise `ttl`
 * by the slack and record the new expiry in `se`.
 *
 * `se` is trusted only up to twice the TTL this write would set: se comes back from the stored
 * value, and a value this code did not write with its TTL (an operator's SET or PERSIST, a
 * restore, damage) could hold se years ahead, or +inf, on a key that expires in a moment or
 * never. Kept, such a key would expire with its buckets in debt (over-admission) or live
 * forever; bounded, the next write sets the TTL again, as every write did before se. Legit
 * states pass: a busy subject's need only grows between writes (se - now <= ttl + a quarter +
 * slack); it shrinks by more than half only after a refund or a long idle gap, and then the TTL
 * is set again, shorter, so an idle key outlives its need by at most about 1.5 times it plus
 * twice the slack. NaN fails both comparisons and sets the TTL.
 */
export function keepOrExtend(se: string): string {
  return `local keep = false
if exact then ${se} = 0
else
  local ext = ttl + math.ceil(ttl / 4) + ${STATE_EXPIRY_SLACK_MS}
  if ${se} - now >= ttl and ${se} - now <= 2 * ext then keep = true
  else ttl = ext; ${se} = now + ttl - 1 end
end`;
}

/** The SET of `packed` (a Lua expression) with the TTL kept or set, as keepOrExtend decided. */
export function setState(key: string, packed: string): string {
  return `if keep then redis.call('SET', ${key}, ${packed}, 'KEEPTTL')
else redis.call('SET', ${key}, ${packed}, 'PX', ttl) end`;
}
