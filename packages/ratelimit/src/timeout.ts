import { errorType as coreErrorType } from '@llmsec/core/internal';

/** Raised when a store call outlives the limiter's command timeout. */
export class StoreTimeoutError extends Error {
  override readonly name = 'StoreTimeoutError';
  constructor(ms: number) {
    super(`rate-limit store did not answer within ${ms} ms`);
  }
}

/**
 * Runs `expire` once `ms` have passed, but only after this process has read the I/O that
 * arrived meanwhile: the timer's callback hands over to setImmediate, which runs after the
 * event loop's poll phase. When the loop was blocked past the timeout (a synchronous tokenizer
 * load, a long GC, a CPU-bound request) while Redis's reply was already waiting in the socket,
 * timers run before that reply is read; timing out then counted a store failure for a store
 * that had answered in time (and, failing closed, refused the request). The reply, read in the
 * poll phase, settles the call first and `expire` sees it settled. One extra turn of the loop,
 * only for a call that reached its timeout.
 */
function afterTimeout(ms: number, expire: () => void): NodeJS.Timeout {
  const timer = setTimeout(() => {
    setImmediate(expire);
  }, ms);
  timer.unref?.();
  return timer;
}

/**
 * Settles with `promise`, or rejects with StoreTimeoutError after `ms`. The late outcome of
 * the original promise is handed to `late` (never left unhandled), so a caller can undo a
 * reservation that arrived after it had stopped waiting.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, late?: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timedOut = false;
    const timer = afterTimeout(ms, () => {
      if (settled) return;
      timedOut = true;
      reject(new StoreTimeoutError(ms));
    });
    promise.then(
      (value) => {
        settled = true;
        clearTimeout(timer);
        if (!timedOut) resolve(value);
        else if (late) late(value);
      },
      (err: unknown) => {
        settled = true;
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
    let settled = false;
    const timer = afterTimeout(ms, () => {
      if (settled) return;
      timedOut = true;
      failWith(new StoreTimeoutError(ms));
    });
    promise.then(
      (value) => {
        settled = true;
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
        settled = true;
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
