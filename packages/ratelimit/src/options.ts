import type { Meter } from '@opentelemetry/api';
import {
  defaultIdGenerator,
  systemClock,
  type Clock,
  type IdGenerator,
  type SecurityEventEmitter,
} from '@llmsec/core';
import { toLimitVector, validateTierLimits, type LimitVector } from './dimensions.ts';
import { resolveEnforcement, type EnforcementOptions, type EnforcementParams } from './enforcement.ts';
import { MemoryStore } from './memory-store.ts';
import type { LimiterStore, SyncLimiterStore } from './store.ts';
import type { AcquireRequest, TierLimits } from './types.ts';

export type FailurePolicy = 'open' | 'closed';

export interface RateLimiterOptions {
  /** Where counters live. @default a new MemoryStore (this process only) */
  store?: LimiterStore;
  /** Plans by name. At least one. */
  tiers: Record<string, TierLimits>;
  /** Tier used when neither the request nor resolveTier names one. @default the only tier, when there is one */
  defaultTier?: string;
  /** Picks a tier from the request (e.g. from the user's plan); an unknown name falls back to defaultTier. */
  resolveTier?: (req: AcquireRequest) => string | undefined;
  /** Tier whose limits apply to secondary subjects (IP, API key). @default the primary's tier */
  secondaryTier?: string;
  /** Concurrency leases not settled within this time are reclaimed. @default 120_000 */
  leaseTtlMs?: number;
  /** When the store fails or times out: 'open' decides with the local fallback limiter, 'closed' refuses. @default 'open' */
  failurePolicy?: FailurePolicy;
  /** The local limiter used while failing open. @default a new MemoryStore({ maxSubjects: 10_000 }) */
  fallbackStore?: SyncLimiterStore;
  /** Longest wait for the store on a request path. @default 100 */
  commandTimeoutMs?: number;
  /** After a store failure, requests go straight to the failure policy for this long, then the store is tried again. @default 1_000 */
  retryIntervalMs?: number;
  /**
   * With a RedisStore failing open: how often the limiter reads the fleet's active bans (one
   * sorted set, `llmsec:bans`), so that while Redis is away it still refuses a client banned by
   * another process (the CLI, the detector, another replica) that it never met. `0`: not read
   * (bans are still written to it); at most 2,147,483,647 (a timer's longest delay). @default 5_000
   */
  banSyncIntervalMs?: number;
  /** Graduated enforcement thresholds; `false` turns it off. @default see EnforcementOptions */
  enforcement?: EnforcementOptions | false;
  /** Receives `rate_limit_hit` and enforcement `anomalous_pattern` events. */
  events?: SecurityEventEmitter;
  /** @default metrics.getMeter('@llmsec/ratelimit') */
  meter?: Meter;
  /** Time for the limiter's own bookkeeping (retry interval) and the default stores. @default systemClock */
  clock?: Clock;
  /** Lease ids. @default crypto-random */
  idGenerator?: IdGenerator;
  /**
   * Load the request estimate's tokenizer (o200k_base) in the constructor, once per process, so
   * the first request does not pay the load (~150 ms idle, seconds on a loaded machine) and no
   * store command of this limiter is in flight while it holds the event loop. `false` for a
   * limiter that never estimates (operator tools): it then loads on the first estimate.
   * @default true
   */
  warmTokenizer?: boolean;
}

export interface ResolvedOptions {
  store: LimiterStore;
  tiers: Map<string, LimitVector>;
  defaultTier: string;
  resolveTier: ((req: AcquireRequest) => string | undefined) | undefined;
  secondaryTier: string | undefined;
  leaseTtlMs: number;
  failurePolicy: FailurePolicy;
  fallbackStore: SyncLimiterStore;
  commandTimeoutMs: number;
  retryIntervalMs: number;
  banSyncIntervalMs: number;
  enforcement: EnforcementParams;
  events: SecurityEventEmitter | undefined;
  meter: Meter | undefined;
  clock: Clock;
  ids: IdGenerator;
}

/** Applies defaults in one place and throws a clear TypeError for any invalid option. */
export function resolveOptions(options: RateLimiterOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('RateLimiter: options object required');
  const names = Object.keys(options.tiers ?? {});
  if (names.length === 0) throw new TypeError('RateLimiter: options.tiers must define at least one tier');
  const tiers = new Map<string, LimitVector>();
  for (const name of names) {
    const limits = options.tiers[name] as TierLimits;
    validateTierLimits(name, limits);
    tiers.set(name, toLimitVector(limits));
  }
  const defaultTier = options.defaultTier ?? (names.length === 1 ? names[0]! : undefined);
  if (defaultTier === undefined) {
    throw new TypeError(
      `RateLimiter: options.defaultTier is required when there are several tiers (${names.join(', ')})`,
    );
  }
  if (!tiers.has(defaultTier))
    throw new TypeError(`RateLimiter: defaultTier "${defaultTier}" is not in tiers (${names.join(', ')})`);
  if (options.secondaryTier !== undefined && !tiers.has(options.secondaryTier)) {
    throw new TypeError(`RateLimiter: secondaryTier "${options.secondaryTier}" is not in tiers`);
  }
  if (options.resolveTier !== undefined && typeof options.resolveTier !== 'function') {
    throw new TypeError('RateLimiter: resolveTier must be a function');
  }
  const leaseTtlMs = options.leaseTtlMs ?? 120_000;
  positiveInt('leaseTtlMs', leaseTtlMs);
  const commandTimeoutMs = options.commandTimeoutMs ?? 100;
  positiveInt('commandTimeoutMs', commandTimeoutMs);
  const retryIntervalMs = options.retryIntervalMs ?? 1_000;
  if (!Number.isSafeInteger(retryIntervalMs) || retryIntervalMs < 0) {
    throw new TypeError(
      `RateLimiter: retryIntervalMs must be an integer >= 0 (got ${String(retryIntervalMs)})`,
    );
  }
  const banSyncIntervalMs = options.banSyncIntervalMs ?? 5_000;
  // A timer's longest delay: past it Node fires every millisecond (TimeoutOverflowWarning), and
  // a huge figure meant as "rarely" read the fleet's 10,000 bans back to back.
  if (!Number.isSafeInteger(banSyncIntervalMs) || banSyncIntervalMs < 0 || banSyncIntervalMs > MAX_TIMER_MS) {
    throw new TypeError(
      `RateLimiter: banSyncIntervalMs must be an integer from 0 to ${MAX_TIMER_MS} (got ${String(banSyncIntervalMs)})`,
    );
  }
  const failurePolicy = options.failurePolicy ?? 'open';
  if (failurePolicy !== 'open' && failurePolicy !== 'closed') {
    throw new TypeError(
      `RateLimiter: failurePolicy must be 'open' or 'closed' (got ${String(failurePolicy)})`,
    );
  }
  const clock = options.clock ?? systemClock;
  const store = options.store ?? new MemoryStore({ clock });
  if (typeof store.acquire !== 'function')
    throw new TypeError('RateLimiter: options.store must be a MemoryStore or RedisStore');
  if (options.fallbackStore !== undefined && options.fallbackStore.synchronous !== true) {
    throw new TypeError('RateLimiter: fallbackStore must be synchronous (a MemoryStore)');
  }
  return {
    store,
    tiers,
    defaultTier,
    resolveTier: options.resolveTier,
    secondaryTier: options.secondaryTier,
    leaseTtlMs,
    failurePolicy,
    fallbackStore: options.fallbackStore ?? new MemoryStore({ maxSubjects: 10_000, clock }),
    commandTimeoutMs,
    retryIntervalMs,
    banSyncIntervalMs,
    enforcement: resolveEnforcement(options.enforcement),
    events: options.events,
    meter: options.meter,
    clock,
    ids: options.idGenerator ?? defaultIdGenerator,
  };
}

/** The longest delay a Node timer takes (about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

function positiveInt(name: string, v: unknown): void {
  if (!Number.isSafeInteger(v) || (v as number) <= 0) {
    throw new TypeError(`RateLimiter: ${name} must be a positive integer of ms (got ${String(v)})`);
  }
}
