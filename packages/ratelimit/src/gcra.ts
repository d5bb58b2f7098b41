/**
 * GCRA (generic cell rate algorithm), one stored number per dimension: the theoretical arrival
 * time (TAT) after which the bucket is empty. A limit L per window W is a bucket of capacity L
 * that drains at L/W: emission interval T = W/L, a request of n units is admitted iff
 * max(TAT, now) + n*T - now <= W. Constant memory per subject, no per-request entries, and
 * settlement is exact arithmetic on TAT. The Lua script in redis-lua.ts is the same algorithm.
 */

/** Float tolerance (ms) for the admit comparison: far below one unit for any sane limit. */
export const EPSILON_MS = 1e-3;

/** Units in the bucket given its busy time (TAT - now) and emission interval. */
export function unitsInBucket(busyMs: number, intervalMs: number): number {
  if (busyMs <= 0) return 0;
  return Math.ceil(busyMs / intervalMs - 1e-6);
}

/** Units that still fit now. */
export function unitsRemaining(busyMs: number, intervalMs: number, windowMs: number): number {
  const free = windowMs - Math.max(0, busyMs);
  if (free <= 0) return 0;
  return Math.floor(free / intervalMs + 1e-6);
}
