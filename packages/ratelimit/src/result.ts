import {
  CONCURRENT_INDEX,
  dimensionAt,
  scaledLimit,
  WINDOW_DIMS,
  WINDOW_MS,
  type LimitVector,
} from './dimensions.ts';
import { unitsInBucket, unitsRemaining } from './gcra.ts';
import { CODE_BANNED, CODE_BLOCKED, CODE_DIMENSION, CODE_ESTIMATE } from './store.ts';
import type { DimensionState, RefusalReason } from './types.ts';

/** Appends the state of every configured dimension of one subject, from busy times and lease count. */
export function appendDimensionStates(
  out: DimensionState[],
  subject: string,
  limits: LimitVector,
  factor: number,
  busyMs: readonly number[],
  leases: number,
): void {
  for (let i = 0; i < WINDOW_DIMS; i++) {
    const limit = limits[i]!;
    if (limit === 0) continue;
    const eff = scaledLimit(limit, factor);
    const w = WINDOW_MS[i]!;
    const interval = w / eff;
    const busy = busyMs[i]!;
    out.push({
      dimension: dimensionAt(i),
      subject,
      limit: eff,
      remaining: unitsRemaining(busy, interval, w),
      current: Math.min(unitsInBucket(busy, interval), Number.MAX_SAFE_INTEGER),
      windowSeconds: w / 1000,
      resetMs: Math.ceil(busy),
    });
  }
  const climit = limits[CONCURRENT_INDEX]!;
  if (climit !== 0) {
    const eff = scaledLimit(climit, factor);
    out.push({
      dimension: 'concurrent',
      subject,
      limit: eff,
      remaining: Math.max(0, eff - leases),
      current: leases,
      windowSeconds: 0,
      resetMs: 0,
    });
  }
}

export function reasonFor(code: number, dim: number): RefusalReason {
  if (code === CODE_DIMENSION) return dimensionAt(dim);
  if (code === CODE_ESTIMATE) return 'estimate_exceeds_limit';
  if (code === CODE_BLOCKED) return 'blocked';
  if (code === CODE_BANNED) return 'banned';
  return 'store_unavailable';
}
