import { DIMENSIONS, type Dimension, type TierLimits } from './types.ts';

/**
 * Dimension tables shared by the Lua script, the in-memory store and the limiter. Index i of
 * every table is DIMENSIONS[i]; the last one (8) is concurrency, which has no window.
 */
export const DIM_COUNT = DIMENSIONS.length; // 9
export const WINDOW_DIMS = 8;
export const CONCURRENT_INDEX = 8;

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Window length in ms per windowed dimension. */
export const WINDOW_MS: readonly number[] = [MINUTE, HOUR, DAY, MINUTE, HOUR, DAY, HOUR, DAY, 0];

/** What a dimension counts: 0 requests, 1 tokens, 2 cost (micro-USD), 3 concurrent leases. */
export const UNIT: readonly number[] = [0, 0, 0, 1, 1, 1, 2, 2, 3];

/** Field names of the per-subject Redis hash (short: they are stored once per subject). */
export const FIELD: readonly string[] = ['rpm', 'rph', 'rpd', 'tpm', 'tph', 'tpd', 'ch', 'cd'];

const TIER_KEYS: readonly (keyof TierLimits)[] = [
  'requestsPerMinute',
  'requestsPerHour',
  'requestsPerDay',
  'tokensPerMinute',
  'tokensPerHour',
  'tokensPerDay',
  'costPerHourMicroUsd',
  'costPerDayMicroUsd',
  'concurrent',
];

/** A tier as a vector in DIMENSIONS order; 0 means unlimited. */
export type LimitVector = readonly number[];

export function toLimitVector(limits: TierLimits): LimitVector {
  return TIER_KEYS.map((k) => limits[k] ?? 0);
}

/** Throws a clear message for a limit that is not a positive safe integer. */
export function validateTierLimits(name: string, limits: TierLimits): void {
  if (typeof limits !== 'object' || limits === null)
    throw new TypeError(`tier "${name}": limits must be an object`);
  for (const key of Object.keys(limits)) {
    if (!(TIER_KEYS as readonly string[]).includes(key)) {
      throw new TypeError(`tier "${name}": unknown limit "${key}" (known: ${TIER_KEYS.join(', ')})`);
    }
  }
  for (const key of TIER_KEYS) {
    const v = limits[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v <= 0) {
      throw new TypeError(
        `tier "${name}": ${key} must be a positive integer (got ${String(v)}); omit it for no limit`,
      );
    }
  }
}

export function dimensionAt(i: number): Dimension {
  return DIMENSIONS[i] as Dimension;
}

/** The amount a request charges on dimension i. */
export function amountFor(i: number, tokens: number, cost: number): number {
  const unit = UNIT[i];
  return unit === 1 ? tokens : unit === 2 ? cost : 1;
}

/** The settlement difference on dimension i. */
export function deltaFor(i: number, requests: number, tokens: number, cost: number): number {
  const unit = UNIT[i];
  return unit === 1 ? tokens : unit === 2 ? cost : requests;
}

/** A limit scaled by an enforcement factor; never below one unit, so a throttled subject can still work. */
export function scaledLimit(limit: number, factor: number): number {
  if (factor === 1) return limit;
  return Math.max(1, Math.floor(limit * factor));
}
