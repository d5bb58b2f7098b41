// The tiers every ratelimit benchmark uses (run.ts, before-after.ts): limits so high that no
// request is refused, so each cell measures the admitted path of every dimension.
import type { TierLimits } from '../../packages/ratelimit/src/index.ts';

/** A limit no benchmark reaches. */
export const HUGE = 1_000_000_000_000;

/** The eight windowed dimensions (requests, tokens, cost per window), no concurrency limit. */
export const WINDOWED: TierLimits = {
  requestsPerMinute: HUGE,
  requestsPerHour: HUGE,
  requestsPerDay: HUGE,
  tokensPerMinute: HUGE,
  tokensPerHour: HUGE,
  tokensPerDay: HUGE,
  costPerHourMicroUsd: HUGE,
  costPerDayMicroUsd: HUGE,
};

/** All nine dimensions: the windowed ones and a concurrency limit (leases). */
export const ALL: TierLimits = { ...WINDOWED, concurrent: 1_000_000 };

/** What one benchmark request asks for (the same in every ratelimit bench). */
export const request = (subject: string) => ({ subject, estimatedTokens: 700, estimatedCostMicroUsd: 2_100 });
