import { errorType as coreErrorType } from '@llmsec/core/internal';

/** Raised when a store call outlives the limiter's command timeout. */
export class StoreTimeoutError extends Error {
  override readonly name = 'StoreTimeoutError';
  constructor(ms: number) {
    super(`rate-limit store did not answer within ${ms} ms`);
  }
}

/**
 * Settles with `promise`, or rejects with StoreTimeoutError after `ms`. The late outcome of
 * the original promise is handed to `late` (never left unhandled), so a caller can undo a
 * reservation that arrived after it had stopped waiting.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, late?: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(new StoreTimeoutError(ms));
    }, ms);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        if (!timedOut) resolve(value);
        else if (late) late(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (!timedOut) reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** Low-cardinality error label: `timeout` for our own timeout, else core's errorType(). */
export function errorType(err: unknown): string {
  if (err instanceof StoreTimeoutError) return 'timeout';
  return coreErrorType(err);
}
