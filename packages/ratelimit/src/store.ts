import type { LimitVector } from './dimensions.ts';
import type { EnforcementParams } from './enforcement.ts';

/**
 * The store-agnostic contract between RateLimiter and its stores. Each method does one atomic
 * step per subject: RedisStore runs one Lua script, MemoryStore the same algorithm in-process.
 * Amounts are integers (tokens, micro-USD); times are the store's clock in epoch ms.
 */
export type MaybePromise<T> = T | Promise<T>;

/** Refusal codes returned by acquire. */
export const CODE_OK = 0;
export const CODE_DIMENSION = 1;
export const CODE_ESTIMATE = 2;
export const CODE_BLOCKED = 3;
export const CODE_BANNED = 4;

export interface SubjectOp {
  subject: string;
  /** Limits in DIMENSIONS order (0 = unlimited). */
  limits: LimitVector;
}

export interface AcquireOp {
  /** One or two subjects (primary, secondary), checked together and charged only if all admit. */
  subjects: SubjectOp[];
  leaseId: string;
  leaseTtlMs: number;
  tokens: number;
  costMicroUsd: number;
  enforcement: EnforcementParams;
}

export interface SubjectOutcome {
  /** Level last reported for this subject before this call, and its level after it. */
  prevLevel: number;
  level: number;
  /** Limit factor applied (1, or the throttle factor). */
  factor: number;
  /** Live concurrency leases after the decision (0 when no concurrency limit). */
  leases: number;
  /** Per windowed dimension: ms of charge in the bucket after the decision (0 = empty). */
  busyMs: number[];
}

export interface AcquireOutcome {
  code: number;
  /** Index of the refusing subject and dimension (when code is DIMENSION or ESTIMATE). */
  refusedSubject: number;
  refusedDim: number;
  retryAfterMs: number;
  nowMs: number;
  leaseExpiresAtMs: number;
  subjects: SubjectOutcome[];
}

export interface SettleSubject {
  subject: string;
  limits: LimitVector;
  factor: number;
}

export interface SettleOp {
  subjects: SettleSubject[];
  leaseId: string;
  /** Differences to charge (positive) or refund (negative). */
  requests: number;
  tokens: number;
  costMicroUsd: number;
  /** Needed to recompute the key TTL (enforcement state shares the key). */
  enforcement: EnforcementParams;
}

export interface ViolationOutcome {
  prevLevel: number;
  level: number;
  score: number;
}

/** Raw state of one subject, independent of any tier. */
export interface SubjectSnapshot {
  nowMs: number;
  /** Per windowed dimension: ms of charge in the bucket (0 = empty). */
  busyMs: number[];
  leases: number;
  score: number;
  blockedUntilMs: number;
  banned: boolean;
  level: number;
}

export interface LimiterStore {
  readonly name: string;
  /** True when every method returns synchronously (MemoryStore): enables RateLimiter.acquireSync. */
  readonly synchronous: boolean;
  acquire(op: AcquireOp): MaybePromise<AcquireOutcome>;
  settle(op: SettleOp): MaybePromise<void>;
  violation(subject: string, weight: number, p: EnforcementParams): MaybePromise<ViolationOutcome>;
  snapshot(subject: string, p: EnforcementParams): MaybePromise<SubjectSnapshot>;
  /** Deletes every counter, lease and enforcement record of the subject. */
  reset(subject: string): MaybePromise<void>;
  /** Clears block, ban and violation score; returns the level before. */
  lift(subject: string, p: EnforcementParams): MaybePromise<number>;
  /** Bans until lifted (or banTtlMs); returns the level before. */
  ban(subject: string, p: EnforcementParams): MaybePromise<number>;
}

/** A store whose every method returns synchronously (MemoryStore): the fallback limiter. */
export interface SyncLimiterStore extends LimiterStore {
  readonly synchronous: true;
  acquire(op: AcquireOp): AcquireOutcome;
  settle(op: SettleOp): void;
  violation(subject: string, weight: number, p: EnforcementParams): ViolationOutcome;
  snapshot(subject: string, p: EnforcementParams): SubjectSnapshot;
  reset(subject: string): void;
  lift(subject: string, p: EnforcementParams): number;
  ban(subject: string, p: EnforcementParams): number;
}
