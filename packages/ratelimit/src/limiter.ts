import { ANONYMOUS_USER } from '@llmsec/core';
import {
  CONCURRENT_INDEX,
  dimensionAt,
  UNIT,
  WINDOW_DIMS,
  WINDOW_MS,
  type LimitVector,
} from './dimensions.ts';
import { LEVEL_BANNED, LEVEL_BLOCKED, levelName } from './enforcement.ts';
import { estimateRequestBody, type RequestEstimate } from './estimate/request.ts';
import { warmTokenizer } from './estimate/tokenizer.ts';
import { StoreFailurePolicy } from './failure-policy.ts';
import { FleetBans } from './fleet-bans.ts';
import { SubjectOperations } from './operator.ts';
import { resolveOptions, type RateLimiterOptions, type ResolvedOptions } from './options.ts';
import { banIndexOf } from './redis-ban-index.ts';
import { appendDimensionStates, reasonFor } from './result.ts';
import { SeenEnforcement, seenRefusal } from './seen-enforcement.ts';
import {
  CODE_BANNED,
  CODE_BLOCKED,
  CODE_DIMENSION,
  CODE_ESTIMATE,
  CODE_OK,
  type AcquireOp,
  type AcquireOutcome,
  type LimiterStore,
  type SettleOp,
} from './store.ts';
import { LimiterTelemetry } from './telemetry.ts';
import type {
  AcquireRequest,
  AcquireResult,
  DimensionState,
  EnforcementLevel,
  Lease,
  SubjectStatus,
  Usage,
} from './types.ts';

interface Prepared {
  req: AcquireRequest;
  tier: string;
  op: AcquireOp;
}

/**
 * Multi-dimensional LLM rate limiter: requests, tokens and cost per minute/hour/day plus
 * concurrent requests, for a primary and an optional secondary subject, with graduated
 * enforcement. acquire() checks every dimension and reserves in one atomic store step;
 * settle() charges or refunds the difference to actual usage and releases the lease.
 *
 * Never rejects on the request path: refusals, store failures and timeouts all resolve to an
 * AcquireResult (failures follow `failurePolicy` within `commandTimeoutMs`).
 */
export class RateLimiter {
  private readonly o: ResolvedOptions;
  private readonly telemetry: LimiterTelemetry;
  private readonly policy: StoreFailurePolicy;
  private readonly ops: SubjectOperations;
  private readonly settled = new WeakSet<Lease>();
  /** Bans and blocks the store refused with, held while failing open (seen-enforcement.ts). */
  private readonly seen = new SeenEnforcement();
  /** The fleet's ban index (RedisStore only): written on a ban, read into `seen` (fleet-bans.ts). */
  private readonly fleet: FleetBans | undefined;

  constructor(options: RateLimiterOptions) {
    this.o = resolveOptions(options);
    this.telemetry = new LimiterTelemetry(this.o.meter, this.o.events);
    this.telemetry.watchStores(this.o.store, this.o.fallbackStore);
    this.policy = new StoreFailurePolicy(this.o, this.telemetry);
    const index = banIndexOf(this.o.store);
    if (index !== undefined) {
      this.fleet = new FleetBans(index, this.seen, this.o, this.telemetry, () => this.policy.down);
      // Read only where it is used: failing open, while the store is away.
      if (this.o.failurePolicy === 'open' && this.o.banSyncIntervalMs > 0)
        this.fleet.start(this.o.banSyncIntervalMs);
    }
    this.ops = new SubjectOperations(this.o, this.telemetry, this.policy, this.seen, this.fleet);
    if (options.warmTokenizer !== false) warmTokenizer();
  }

  /** The store in use (for operator tooling and tests). */
  get store(): LimiterStore {
    return this.o.store;
  }

  /**
   * The estimate to acquire with for an LLM API request body: `estimateRequestBody(body)`, the
   * HTTP middleware's default. Callers that hold the body (the SDK's instrumentation) reserve
   * with it, so both entry points count a request alike: messages, tool definitions and the
   * history's tool-call arguments, the requested maximum output (else 1,024).
   */
  estimateRequest(body: unknown): RequestEstimate {
    return estimateRequestBody(body);
  }

  /** Checks every dimension and, if all admit, reserves. Resolves (never rejects) with the decision. */
  acquire(req: AcquireRequest): Promise<AcquireResult> {
    const prep = this.prepare(req);
    if (!('op' in prep)) return Promise.resolve(prep);
    if (this.o.store.synchronous) return Promise.resolve(this.decideSync(prep));
    return this.decideAsync(prep);
  }

  /** Synchronous acquire for a synchronous store (MemoryStore): no promise on the hot path. */
  acquireSync(req: AcquireRequest): AcquireResult {
    if (!this.o.store.synchronous)
      throw new TypeError('RateLimiter.acquireSync needs a synchronous store (MemoryStore)');
    const prep = this.prepare(req);
    return 'op' in prep ? this.decideSync(prep) : prep;
  }

  /** Charges (or refunds) actual usage minus the reservation and releases the lease. Idempotent per lease object. */
  async settle(lease: Lease, usage: Usage): Promise<void> {
    if (!lease || typeof lease.id !== 'string' || this.settled.has(lease)) return;
    this.settled.add(lease);
    const tokens = units(usage?.tokens) - lease.reservedTokens;
    const cost =
      usage?.costMicroUsd === undefined ? 0 : units(usage.costMicroUsd) - lease.reservedCostMicroUsd;
    const pending = this.settleOp(lease, {
      subjects: this.settleSubjects(lease),
      leaseId: lease.id,
      requests: 0,
      tokens,
      costMicroUsd: cost,
      enforcement: this.o.enforcement,
    });
    if (pending !== undefined) await pending;
  }

  /** Releases the lease and refunds the reserved tokens and cost (the request itself stays counted). */
  async cancel(lease: Lease): Promise<void> {
    await this.settle(lease, { tokens: 0, costMicroUsd: 0 });
  }

  /**
   * Adds violation points to a subject (the detection hook: e.g. a critical alert). Resolves
   * with the level after, or undefined if the store failed (then the fallback records it when failing open).
   */
  recordViolation(subject: string, weight = 1): Promise<EnforcementLevel | undefined> {
    return this.ops.recordViolation(subject, weight);
  }

  /** A subject's counters, leases and enforcement state (against `tier`, default the default tier). Rejects if the store fails. */
  status(subject: string, tier?: string): Promise<SubjectStatus> {
    return this.ops.status(subject, tier);
  }

  /** Deletes every counter, lease and enforcement record of the subject. Rejects if the store fails. */
  reset(subject: string): Promise<void> {
    return this.ops.reset(subject);
  }

  /** Lifts a block or ban and clears the violation score. Resolves with the level before. */
  lift(subject: string): Promise<EnforcementLevel> {
    return this.ops.lift(subject);
  }

  /** Bans a subject until lifted. Resolves with the level before. */
  ban(subject: string): Promise<EnforcementLevel> {
    return this.ops.ban(subject);
  }

  // --- internals ---

  private prepare(req: AcquireRequest): Prepared | AcquireResult {
    const subject = typeof req?.subject === 'string' && req.subject !== '' ? req.subject : ANONYMOUS_USER;
    const tier = this.tierFor(req);
    const limits = this.o.tiers.get(tier)!;
    const tokens = units(req?.estimatedTokens);
    const cost = units(req?.estimatedCostMicroUsd);
    const subjects = [{ subject, limits }];
    const second = req?.secondarySubject;
    if (typeof second === 'string' && second !== '' && second !== subject) {
      // Without secondaryTier, at the request's own tier: priced at defaultTier, a pro user alone
      // at an address was held to the free tier's budget (secondary-tier-default.test.ts).
      subjects.push({ subject: second, limits: this.o.tiers.get(this.o.secondaryTier ?? tier)! });
    }
    for (let s = 0; s < subjects.length; s++) {
      const v = subjects[s]!.limits;
      for (let i = 3; i < WINDOW_DIMS; i++) {
        const limit = v[i]!;
        const amount = UNIT[i] === 1 ? tokens : cost;
        if (limit !== 0 && amount > limit)
          return this.estimateRefusal(req, subjects[s]!.subject, s, i, limit);
      }
    }
    const op: AcquireOp = {
      subjects,
      leaseId: this.o.ids.hex(16),
      leaseTtlMs: this.o.leaseTtlMs,
      tokens,
      costMicroUsd: cost,
      enforcement: this.o.enforcement,
    };
    return { req, tier, op };
  }

  private tierFor(req: AcquireRequest): string {
    let name = req?.tier;
    if (name === undefined && this.o.resolveTier) {
      try {
        name = this.o.resolveTier(req);
      } catch (err) {
        // Counted each time, logged once per episode: a broken resolveTier fails every request.
        this.telemetry.error('resolve_tier', err);
      }
    }
    return name !== undefined && this.o.tiers.has(name) ? name : this.o.defaultTier;
  }

  private decideSync(prep: Prepared): AcquireResult {
    let outcome: AcquireOutcome;
    try {
      outcome = this.o.store.acquire(prep.op) as AcquireOutcome;
    } catch (err) {
      this.policy.failed(err);
      return this.onStoreFailure(prep);
    }
    return this.finish(prep, outcome, false);
  }

  private decideAsync(prep: Prepared): Promise<AcquireResult> {
    if (this.policy.down) return Promise.resolve(this.onStoreFailure(prep));
    return this.policy.acquire(
      prep.op,
      (outcome) => this.finish(prep, outcome, false),
      (err) => {
        this.policy.failed(err);
        return this.onStoreFailure(prep);
      },
    );
  }

  private onStoreFailure(prep: Prepared): AcquireResult {
    if (this.seen.size !== 0 && this.o.failurePolicy === 'open') {
      const refusal = seenRefusal(this.seen, prep.op, this.o.clock.now(), this.o.fallbackStore);
      if (refusal !== undefined) return this.finish(prep, refusal, true);
    }
    const outcome = this.policy.fallback(prep.op);
    if (outcome !== undefined) return this.finish(prep, outcome, true);
    return this.policy.closedRefusal(prep.op.subjects[0]!.subject);
  }

  private finish(prep: Prepared, outcome: AcquireOutcome, degraded: boolean): AcquireResult {
    const { op } = prep;
    const dimensions: DimensionState[] = [];
    let level = 0;
    const n = op.subjects.length;
    const factors: number[] = new Array<number>(n);
    for (let s = 0; s < n; s++) {
      const so = outcome.subjects[s]!;
      const sub = op.subjects[s]!;
      factors[s] = so.factor;
      if (so.level < 0) continue; // not reached (cluster two-phase refused on the other subject)
      appendDimensionStates(dimensions, sub.subject, sub.limits, so.factor, so.busyMs, so.leases);
      if (so.level > level) level = so.level;
      if (so.level !== so.prevLevel) {
        this.telemetry.transition(sub.subject, so.prevLevel, so.level, 'acquire');
        // Refusals drove the score to a ban: into the fleet's index (not awaited, never rejects).
        if (so.level === LEVEL_BANNED && !degraded && this.fleet !== undefined)
          void this.fleet.added(sub.subject);
      }
      // Neither banned nor blocked in the store (lifted elsewhere, a block over): forgotten.
      if (!degraded && so.level < LEVEL_BLOCKED && this.seen.noted !== 0) this.seen.forget(sub.subject);
    }
    if (!degraded && (outcome.code === CODE_BANNED || outcome.code === CODE_BLOCKED)) {
      // A reply naming no subject of the call (a store's bug, a garbled reply) notes nothing: a
      // throw here would count as a store failure and admit the subject through the fallback.
      const refused = op.subjects[outcome.refusedSubject];
      if (refused !== undefined)
        this.seen.note(
          refused.subject,
          outcome.code === CODE_BANNED ? LEVEL_BANNED : LEVEL_BLOCKED,
          this.o.clock.now() + Math.max(0, outcome.retryAfterMs),
        );
    }
    if (outcome.code === CODE_OK) {
      this.telemetry.admitted(degraded);
      // Optional members assigned after the literal, not spread into it: same objects, no
      // temporary object per call on the hot path.
      const lease: Lease = {
        id: op.leaseId,
        subject: op.subjects[0]!.subject,
        tier: prep.tier,
        reservedTokens: op.tokens,
        reservedCostMicroUsd: op.costMicroUsd,
        expiresAtMs: outcome.leaseExpiresAtMs,
        limitFactors: factors,
      };
      if (n > 1) lease.secondarySubject = op.subjects[1]!.subject;
      if (degraded) lease.fallback = true;
      const result: AcquireResult = {
        allowed: true,
        retryAfterMs: 0,
        dimensions,
        lease,
        level: levelName(level),
      };
      if (degraded) result.degraded = true;
      return result;
    }
    const reason = reasonFor(outcome.code, outcome.refusedDim);
    const refSubject = op.subjects[outcome.refusedSubject]?.subject ?? op.subjects[0]!.subject;
    let refusedBy: DimensionState | undefined;
    if (outcome.code === CODE_DIMENSION || outcome.code === CODE_ESTIMATE) {
      const dim = dimensionAt(outcome.refusedDim);
      refusedBy = dimensions.find((d) => d.subject === refSubject && d.dimension === dim);
    }
    const metricDim =
      outcome.code === CODE_DIMENSION ? reason : outcome.code === CODE_ESTIMATE ? 'estimate' : 'enforcement';
    this.telemetry.decision(metricDim, 'refused');
    const event = this.telemetry.rateLimitHit(
      op.subjects[0]!.subject,
      refusedBy ? refusedBy.dimension : reason,
      refusedBy ? refusedBy.current : 0,
      refusedBy ? refusedBy.limit : 0,
      { subject_role: outcome.refusedSubject === 1 ? 'secondary' : 'primary', reason },
    );
    const result: AcquireResult = {
      allowed: false,
      reason,
      retryAfterMs: Math.max(0, outcome.retryAfterMs),
      dimensions,
      level: levelName(level),
    };
    if (refusedBy) result.refusedBy = refusedBy;
    if (degraded) result.degraded = true;
    if (event !== undefined) result.event = event;
    return result;
  }

  private estimateRefusal(
    req: AcquireRequest,
    subject: string,
    s: number,
    dim: number,
    limit: number,
  ): AcquireResult {
    const refusedBy: DimensionState = {
      dimension: dimensionAt(dim),
      subject,
      limit,
      remaining: limit,
      current: 0,
      windowSeconds: WINDOW_MS[dim]! / 1000,
      resetMs: 0,
    };
    this.telemetry.decision('estimate', 'refused');
    const primary = typeof req?.subject === 'string' && req.subject !== '' ? req.subject : ANONYMOUS_USER;
    const amount = UNIT[dim] === 1 ? units(req?.estimatedTokens) : units(req?.estimatedCostMicroUsd);
    const event = this.telemetry.rateLimitHit(primary, refusedBy.dimension, amount, limit, {
      subject_role: s === 1 ? 'secondary' : 'primary',
      reason: 'estimate_exceeds_limit',
    });
    const result: AcquireResult = {
      allowed: false,
      reason: 'estimate_exceeds_limit',
      refusedBy,
      retryAfterMs: 0,
      dimensions: [refusedBy],
      level: 'normal',
    };
    if (event !== undefined) result.event = event;
    return result;
  }

  private settleSubjects(lease: Lease): SettleOp['subjects'] {
    const tier = lease.tier !== undefined && this.o.tiers.has(lease.tier) ? lease.tier : this.o.defaultTier;
    const factors = lease.limitFactors ?? [];
    const out: SettleOp['subjects'] = [
      { subject: lease.subject, limits: this.o.tiers.get(tier)!, factor: factors[0] ?? 1 },
    ];
    if (lease.secondarySubject !== undefined) {
      const limits: LimitVector = this.o.tiers.get(this.o.secondaryTier ?? tier)!;
      out.push({ subject: lease.secondarySubject, limits, factor: factors[1] ?? 1 });
    }
    return out;
  }

  /** The settle's store call: a promise when it goes to an asynchronous store (never rejects). */
  private settleOp(lease: Lease, op: SettleOp): Promise<void> | undefined {
    // Nothing to charge, refund or release: skip the round trip.
    if (
      op.requests === 0 &&
      op.tokens === 0 &&
      op.costMicroUsd === 0 &&
      op.subjects.every((s) => s.limits[CONCURRENT_INDEX] === 0)
    ) {
      return;
    }
    if (lease.fallback) {
      this.o.fallbackStore.settle(op);
      return;
    }
    if (this.o.store.synchronous) {
      return this.policy.call((s) => s.settle(op)).catch((err: unknown) => this.policy.failed(err));
    }
    if (this.policy.down) return; // the lease expires on its own
    return this.policy.run((s) => s.settle(op));
  }
}

/** Amounts are integers >= 0: fractions round up, NaN and negatives count as 0. */
function units(x: unknown): number {
  if (typeof x !== 'number' || !(x > 0)) return 0;
  return x >= Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : Math.ceil(x);
}
