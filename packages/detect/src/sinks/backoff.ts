import type { RandomSource } from '@llmsec/core';

export interface BackoffOptions {
  /** Ceiling of the first retry's delay. @default 500 */
  initialMs: number;
  /** The ceiling never grows past this. @default 30_000 */
  maxMs: number;
}

/**
 * Delay before retry number `attempt` (1 for the first retry): exponential backoff with "full
 * jitter", uniform in [0, min(maxMs, initialMs * 2^(attempt-1))). Full jitter spreads the
 * retries of many senders after a shared outage instead of having them hit Alertmanager in
 * lockstep (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015).
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: RandomSource): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 52);
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}
