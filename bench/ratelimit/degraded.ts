// Decisions a ratelimit benchmark must not count as Redis's. When a store call times out
// under load the limiter fails open: for `retryIntervalMs` every acquire is decided by the
// per-process fallback store, at memory speed with next to no Redis CPU, and a "best round"
// would pick that round. Every bench limiter gets a counted fallback store and the store
// failures the limiter reports (diag.error, once per outage) are counted too; a round with
// either is reported and not kept.
import { diag, DiagLogLevel } from '@opentelemetry/api';
import type { MemoryStore } from '../../packages/ratelimit/src/index.ts';

export interface Degraded {
  /** Acquires decided by the fallback store (each is an AcquireResult with `degraded: true`). */
  decisions: number;
  /** Store failures or timeouts the limiter reported (the start of each outage). */
  failures: number;
}

let decisions = 0;
let failures = 0;

/**
 * The store to pass as a bench limiter's `fallbackStore`: counts every decision it makes. A
 * wrapper around the fallback, not around each result, so the Redis path pays nothing for it.
 */
export function countedFallback<T extends MemoryStore>(store: T): T {
  const acquire = store.acquire.bind(store);
  store.acquire = (op) => {
    decisions++;
    return acquire(op);
  };
  return store;
}

/** Counts the limiter's store-failure reports from now on (replaces the global diag logger). */
export function watchStoreFailures(): void {
  const ignore = (): void => {};
  diag.setLogger(
    {
      error: (message: string) => {
        if (message.startsWith('@llmsec/ratelimit: store')) failures++;
        else console.error(message);
      },
      warn: ignore,
      info: ignore,
      debug: ignore,
      verbose: ignore,
    },
    DiagLogLevel.ERROR,
  );
}

/** The counts since the last call (call it before and after each cell). */
export function takeDegraded(): Degraded {
  const out = { decisions, failures };
  decisions = 0;
  failures = 0;
  return out;
}

export const anyDegraded = (d: Degraded): boolean => d.decisions > 0 || d.failures > 0;
