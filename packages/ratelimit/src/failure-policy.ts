/**
 * What the limiter does when its store fails or is slow: every store call is bounded by the
 * command timeout and runs untraced; a failure is counted, reported once per outage, and for
 * `retryIntervalMs` afterwards requests skip the store and go straight to the policy: fail
 * open (decide with the local fallback store) or fail closed (refuse, `store_unavailable`).
 */
import { diag } from '@opentelemetry/api';
import { untraced } from '@llmsec/core/internal';
import type { ResolvedOptions } from './options.ts';
import { CODE_OK, type AcquireOp, type AcquireOutcome, type LimiterStore, type SettleOp } from './store.ts';
import type { LimiterTelemetry } from './telemetry.ts';
import { errorType, mapWithTimeout, withTimeout } from './timeout.ts';
import type { AcquireResult } from './types.ts';

export class StoreFailurePolicy {
  private readonly o: ResolvedOptions;
  private readonly telemetry: LimiterTelemetry;
  private downUntil = 0;
  private failing = false;

  constructor(o: ResolvedOptions, telemetry: LimiterTelemetry) {
    this.o = o;
    this.telemetry = telemetry;
  }

  /** True for `retryIntervalMs` after a failure: the store is not tried meanwhile. */
  get down(): boolean {
    // downUntil is 0 until the first failure: no clock read per request while all is well.
    return this.downUntil !== 0 && this.o.clock.now() < this.downUntil;
  }

  /**
   * The store's acquire within the command timeout, then `decide(outcome)`, or `fail(error)`
   * on a store failure, a timeout or a throw of `decide` (the caller reports it with
   * `failed`). A reservation the store makes after we stopped waiting is given back when it
   * arrives.
   */
  acquire<R>(op: AcquireOp, decide: (outcome: AcquireOutcome) => R, fail: (err: Error) => R): Promise<R> {
    return mapWithTimeout(
      attempt(() => this.o.store.acquire(op)),
      this.o.commandTimeoutMs,
      (outcome) => {
        if (this.failing) this.recovered();
        return decide(outcome);
      },
      fail,
      (late) => this.undoLate(op, late),
    );
  }

  /**
   * Runs a request-path store call (settle) within the command timeout; a failure or timeout
   * goes to `failed` and the promise resolves either way.
   */
  run(fn: (store: LimiterStore) => unknown): Promise<void> {
    return mapWithTimeout(
      attempt(() => fn(this.o.store)),
      this.o.commandTimeoutMs,
      this.succeeded,
      this.failedThen,
    );
  }

  private readonly succeeded = (): void => {
    if (this.failing) this.recovered();
  };

  private readonly failedThen = (err: Error): void => {
    this.failed(err);
  };

  /** Runs a store call within the command timeout (operator calls get ten times as long). */
  async call<T>(fn: (store: LimiterStore) => T | Promise<T>, admin = false): Promise<T> {
    const store = this.o.store;
    if (store.synchronous) return await fn(store);
    const ms = admin ? this.o.commandTimeoutMs * 10 : this.o.commandTimeoutMs;
    const value = await withTimeout(
      attempt(() => fn(store)),
      ms,
    );
    if (this.failing) this.recovered();
    return value;
  }

  /**
   * The decision while the store is failing: the fallback store's outcome when failing open,
   * undefined when failing closed (then the caller answers with `closedRefusal`).
   */
  fallback(op: AcquireOp): AcquireOutcome | undefined {
    return this.o.failurePolicy === 'open' ? this.o.fallbackStore.acquire(op) : undefined;
  }

  /** Fail closed: refused, `store_unavailable`, retry after the retry interval. */
  closedRefusal(subject: string): AcquireResult {
    this.telemetry.decision('none', 'refused');
    const event = this.telemetry.rateLimitHit(subject, 'store_unavailable', 0, 0, {
      subject_role: 'primary',
      reason: 'store_unavailable',
    });
    const result: AcquireResult = {
      allowed: false,
      reason: 'store_unavailable',
      retryAfterMs: this.o.retryIntervalMs,
      dimensions: [],
      level: 'normal',
      degraded: true,
    };
    if (event !== undefined) result.event = event;
    return result;
  }

  /** Counts the failure, opens the retry interval and reports the first failure of an outage. */
  failed(err: unknown): void {
    const type = errorType(err);
    this.telemetry.storeError(type);
    this.downUntil = this.o.clock.now() + this.o.retryIntervalMs;
    if (!this.failing) {
      this.failing = true;
      diag.error(
        `@llmsec/ratelimit: store "${this.o.store.name}" failed (${type}); failure policy "${this.o.failurePolicy}" applies, retrying every ${this.o.retryIntervalMs} ms`,
        err,
      );
    }
  }

  private recovered(): void {
    this.failing = false;
    diag.info(`@llmsec/ratelimit: store "${this.o.store.name}" recovered`);
  }

  /** A reservation the store made after we stopped waiting: give it back. */
  private undoLate(op: AcquireOp, late: AcquireOutcome): void {
    if (late.code !== CODE_OK) return;
    const undo: SettleOp = {
      subjects: op.subjects.map((s, i) => ({
        subject: s.subject,
        limits: s.limits,
        factor: late.subjects[i]?.factor ?? 1,
      })),
      leaseId: op.leaseId,
      enforcement: this.o.enforcement,
      requests: -1,
      tokens: -op.tokens,
      costMicroUsd: -op.costMicroUsd,
    };
    attempt(() => this.o.store.settle(undo)).catch((err: unknown) => this.failed(err));
  }
}

/**
 * Calls a store method in the untraced context (no span of the user's, no baggage, tracing
 * suppressed), turning a synchronous throw into a rejection.
 */
export function attempt<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(untraced(fn));
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
