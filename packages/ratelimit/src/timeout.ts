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

/**
 * `promise` within `ms`, then `ok(value)`, or `fail(error)` on its failure, on the timeout
 * (StoreTimeoutError) or on a throw of `ok`: one promise where `withTimeout` plus the
 * caller's `await` and `try` took three, on the request path where each showed in the profile.
 * A throw of `fail` rejects. A value arriving after the timeout goes to `late`.
 */
export function mapWithTimeout<T, R>(
  promise: Promise<T>,
  ms: number,
  ok: (value: T) => R,
  fail: (err: Error) => R,
  late?: (value: T) => void,
): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    let timedOut = false;
    const failWith = (err: Error): void => {
      try {
        resolve(fail(err));
      } catch (thrown) {
        reject(thrown instanceof Error ? thrown : new Error(String(thrown)));
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      failWith(new StoreTimeoutError(ms));
    }, ms);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        if (timedOut) {
          late?.(value);
          return;
        }
        let result: R;
        try {
          result = ok(value);
        } catch (err) {
          failWith(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        resolve(result);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (!timedOut) failWith(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** Low-cardinality error label: `timeout` for our own timeout, else core's errorType(). */
export function errorType(err: unknown): string {
  if (err instanceof StoreTimeoutError) return 'timeout';
  return coreErrorType(err);
}
