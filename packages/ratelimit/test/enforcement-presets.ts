import type { EnforcementOptions } from '../src/enforcement.ts';

/**
 * Enforcement thresholds the store tests share, named by what a test relies on, so each test
 * states only the numbers it checks.
 */

/**
 * Blocked from a score of 3 (warning at 1, throttled at 2) for `blockMs`, banned at `bannedAt`;
 * a day's half-life, so a score barely decays while a test runs.
 */
export function blockedAt3(blockMs: number, bannedAt = 100): EnforcementOptions {
  return { warningAt: 1, throttledAt: 2, blockedAt: 3, bannedAt, blockMs, halfLifeMs: 86_400_000 };
}

/**
 * Throttled from a score of 2, limits halved; blocked only at 30. Half-life 1 min: a score of 4
 * decays to the throttle's end exactly one minute after it was set.
 */
export const THROTTLED_AT_2_HALF_LIFE_1_MIN: EnforcementOptions = {
  warningAt: 1,
  throttledAt: 2,
  blockedAt: 30,
  bannedAt: 100,
  halfLifeMs: 60_000,
  throttleFactor: 0.5,
};
