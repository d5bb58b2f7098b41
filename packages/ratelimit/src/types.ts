import type { SecurityEvent } from '@llmsec/core';

/**
 * The rate limiter's public types. LLM requests differ 1000x in cost, so a request is charged
 * on several dimensions at once; all are checked in one atomic step.
 */

export const DIMENSIONS = [
  'rpm',
  'rph',
  'rpd',
  'tpm',
  'tph',
  'tpd',
  'cost_hour',
  'cost_day',
  'concurrent',
] as const;
/** requests / tokens per minute, hour, day; cost (micro-USD) per hour, day; concurrent requests. */
export type Dimension = (typeof DIMENSIONS)[number];

/** Limits of one tier (plan). Absent means unlimited. Cost in integer micro-USD, never floats. */
export interface TierLimits {
  requestsPerMinute?: number;
  requestsPerHour?: number;
  requestsPerDay?: number;
  tokensPerMinute?: number;
  tokensPerHour?: number;
  tokensPerDay?: number;
  costPerHourMicroUsd?: number;
  costPerDayMicroUsd?: number;
  concurrent?: number;
}

export const ENFORCEMENT_LEVELS = ['normal', 'warning', 'throttled', 'blocked', 'banned'] as const;
export type EnforcementLevel = (typeof ENFORCEMENT_LEVELS)[number];

export interface AcquireRequest {
  /** Primary subject, usually the user id. */
  subject: string;
  /** Secondary subject checked together with the primary (client IP, API key). */
  secondarySubject?: string;
  /** Tier name; resolved to TierLimits by the limiter's tiers option. */
  tier?: string;
  /** Tokens reserved now, settled against actual usage later. */
  estimatedTokens: number;
  /** Cost reserved now, integer micro-USD. */
  estimatedCostMicroUsd?: number;
}

/** Why a request was refused: the refusing dimension, or a reason that is not a dimension. */
export type RefusalReason = Dimension | 'estimate_exceeds_limit' | 'blocked' | 'banned' | 'store_unavailable';

/** One dimension's state after a decision, for headers and events. */
export interface DimensionState {
  dimension: Dimension;
  /** Which subject the figures are for (primary or secondary). */
  subject: string;
  limit: number;
  /** Units left in the window after this decision (never negative). */
  remaining: number;
  /** Units used in the window, including this request if admitted. */
  current: number;
  /** Window length in seconds (0 for concurrency). */
  windowSeconds: number;
  /** Milliseconds until the window has room again / fully resets. */
  resetMs: number;
}

/** A reservation held between acquire and settle/cancel. Opaque to callers except for ids. */
export interface Lease {
  id: string;
  subject: string;
  secondarySubject?: string;
  tier?: string;
  reservedTokens: number;
  reservedCostMicroUsd: number;
  /** Epoch ms (store clock) after which the concurrency slot is reclaimed. */
  expiresAtMs: number;
  /**
   * Per subject (primary, secondary): the limit factor in force at acquire (1, or the
   * enforcement throttle factor). Settle charges and refunds at the same rate. Default 1.
   */
  limitFactors?: number[];
  /** True when the lease came from the fallback limiter (store unavailable at acquire). */
  fallback?: boolean;
}

export interface AcquireResult {
  allowed: boolean;
  /** Set when refused. */
  reason?: RefusalReason;
  /** The dimension that refused, with its figures (when the reason is a dimension). */
  refusedBy?: DimensionState;
  /**
   * Milliseconds until a retry can be admitted: until the refusing dimension has room, the
   * block ends (`blocked`), the ban ends (`banned`: when the state holding it expires,
   * `banTtlMs` after the ban unless lifted; refused retries do not move it) or the throttle
   * ends (`estimate_exceeds_limit` over a throttled limit). 0 when allowed, and for
   * `estimate_exceeds_limit` over a full limit, which no wait cures (the HTTP middleware then
   * sends no `Retry-After`).
   */
  retryAfterMs: number;
  /** Every configured dimension's state, primary and secondary subjects. */
  dimensions: DimensionState[];
  /** Present when allowed: pass to settle() or cancel(). */
  lease?: Lease;
  level: EnforcementLevel;
  /** True when the decision came from the fallback limiter because the store failed. */
  degraded?: boolean;
  /**
   * The `rate_limit_hit` this limiter recorded for the refusal (only when it was given
   * `events`). A caller that records refusals itself (the SDK's instrumentation) records none
   * when this is set, so a refusal is one event.
   */
  event?: SecurityEvent;
}

export interface Usage {
  tokens: number;
  costMicroUsd?: number;
}

/** One subject's state as the operator sees it (RateLimiter.status, `llmsec limits show`). */
export interface SubjectStatus {
  subject: string;
  /** Store clock, epoch ms. */
  nowMs: number;
  level: EnforcementLevel;
  /** Decayed violation score. */
  violationScore: number;
  /** Epoch ms the current block ends (absent when not blocked). */
  blockedUntilMs?: number;
  banned: boolean;
  /** Live concurrency leases. */
  activeLeases: number;
  /** Per windowed dimension: ms until its bucket is empty (absent = empty). */
  busyMs: Partial<Record<Dimension, number>>;
  /** Figures against the given tier's limits (when a tier is known). */
  dimensions: DimensionState[];
  tier?: string;
}
