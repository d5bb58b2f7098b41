import { errorType as coreErrorType } from '@llmsec/core/internal';

/** Raised when a store call outlives the limiter's command timeout. */
export class StoreTimeoutError extends Error {
  override readonly name = 'StoreTimeoutError';
  constructor(ms: number) {
    super(`rate-limit store did not answer within ${ms} ms`);
  }
}

/** A timeout armed by afterTimeout. */
class Deadline {
  timer: NodeJS.Timeout | undefined = undefined;
  cancelled = false;
  readonly ms: number;
  readonly expire: () => void;
  constructor(ms: number, expire: () => void) {
    this.ms = ms;
    this.expire = expire;
  }

  cancel(): void {
    this.cancelled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}

/** Deadlines made this tick, armed together on the next (after the store's flush). */
let unarmed: Deadline[] = [];

function armUnarmed(): void {
  const due = unarmed;
  unarmed = [];
  for (const deadline of due) {
    if (deadline.cancelled) continue;
    const timer = setTimeout(expireAfterIo, deadline.ms, deadline.expire);
    timer.unref?.();
    deadline.timer = timer;
  }
}

function expireAfterIo(expire: () => void): void {
  setImmediate(expire);
}

/**
 * Runs `expire` once `ms` have passed since the call went out, and only after this process has
 * read the I/O that arrived meanwhile; `cancel()` on the result stops it.
 *
 * Armed on the next tick, not now: the store writes its command on process.nextTick (the
 * coalescer's flush, queued by the store call before this), so the clock starts once the
 * command is sent. Armed now, a caller that held the loop after acquire() returned (a
 * synchronous parse or load before its `await`) used up the timeout before the command was
 * even written, and the limiter counted a store failure for a store it had not asked yet
 * (failing closed: store_unavailable, the retry interval opened for every request).
 *
 * The timer's callback hands over to setImmediate, which runs after the event loop's poll
 * phase. When the loop was blocked past the timeout (a long GC, a CPU-bound request) while
 * Redis's reply was already waiting in the socket, timers run before that reply is read;
 * timing out then counted a store failure for a store that had answered in time. The reply,
 * read in the poll phase, settles the call first and `expire` sees it settled. One extra turn
 * of the loop, only for a call that reached its timeout.
 */
function afterTimeout(ms: number, expire: () => void): Deadline {
  const deadline = new Deadline(ms, expire);
  // One tick for all the calls of this tick: a nextTick per call cost ~400 ns of CPU each.
  if (unarmed.push(deadline) === 1) process.nextTick(armUnarmed);
  return deadline;
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
    const deadline = afterTimeout(ms, () => {
      if (settled) return;
      timedOut = true;
      reject(new StoreTimeoutError(ms));
    });
    promise.then(
      (value) => {
        settled = true;
        deadline.cancel();
        if (!timedOut) resolve(value);
        else if (late) late(value);
      },
      (err: unknown) => {
        settled = true;
        deadline.cancel();
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
    const deadline = afterTimeout(ms, () => {
      if (settled) return;
      timedOut = true;
      failWith(new StoreTimeoutError(ms));
    });
    promise.then(
      (value) => {
        settled = true;
        deadline.cancel();
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
        deadline.cancel();
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
