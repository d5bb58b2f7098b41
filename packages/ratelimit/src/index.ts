export { RateLimiter } from './limiter.ts';
export type { RateLimiterOptions, FailurePolicy } from './options.ts';
export { MemoryStore } from './memory-store.ts';
export type { MemoryStoreOptions } from './memory-store.ts';
export { RedisStore } from './redis-store.ts';
export type { RedisStoreOptions } from './redis-store.ts';
export type { LimiterStore } from './store.ts';
export type { EnforcementOptions } from './enforcement.ts';
export { alertViolationHook, VICTIM_RULES } from './alert-hook.ts';
export type { AlertViolationOptions } from './alert-hook.ts';
export { StoreTimeoutError } from './timeout.ts';
export { DIMENSIONS, ENFORCEMENT_LEVELS } from './types.ts';
export type {
  Dimension,
  TierLimits,
  EnforcementLevel,
  AcquireRequest,
  RefusalReason,
  DimensionState,
  Lease,
  AcquireResult,
  Usage,
  SubjectStatus,
} from './types.ts';
export { createRateLimitMiddleware, withRateLimit } from './http/middleware-node.ts';
export type { RateLimitMiddleware, RequestHandler, NextFunction } from './http/middleware-node.ts';
export { setRateLimitUsage, getRateLimitDecision } from './http/usage.ts';
export type {
  LimiterLike,
  RateLimitMiddlewareOptions,
  RateLimitHeaderOptions,
  RateLimitDecision,
  RequestLike,
  GuardRequest,
  GuardResponse,
} from './http/types.ts';
export type { RefusalBody } from './http/guard.ts';
export { estimateTokens, estimateChatTokens } from './estimate/tokens.ts';
export { estimateRequestBody } from './estimate/request.ts';
export type { RequestEstimate, RequestEstimateOptions } from './estimate/request.ts';
export { estimateCostMicroUsd } from './estimate/cost.ts';
