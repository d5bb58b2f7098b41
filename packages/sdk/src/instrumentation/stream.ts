import type { StreamAccumulator } from './adapter.ts';

/**
 * Observes a client `Stream` without changing its type: both clients' Stream keeps the
 * function that creates its async iterator in an instance field (`iterator`), used by
 * `[Symbol.asyncIterator]`, `tee()` and `toReadableStream()` alike, so replacing that field
 * on the instance covers every way of reading the stream. The object returned to the
 * application is the library's own Stream (and Anthropic's MessageStream reads it the same way).
 */

export interface StreamObserver {
  readonly accumulator: StreamAccumulator;
  /** Called with each item's added text; throw to cut the stream (the request is aborted). */
  onDelta(delta: string): void;
  /** The stream ended; `complete` is false when it ended without the provider's terminal item. */
  onEnd(complete: boolean): void | Promise<void>;
  onError(err: unknown): void;
  /** The application stopped reading early (break / return). */
  onAbandon(): void;
}

type IteratorFactory = (this: unknown) => AsyncIterator<unknown>;

export function isObservableStream(value: unknown): value is { iterator: IteratorFactory } {
  return typeof value === 'object' && value !== null && typeof (value as { iterator?: unknown }).iterator === 'function';
}

export function observeStream(stream: { iterator: IteratorFactory }, observer: StreamObserver): void {
  const original = stream.iterator;
  let used = false;
  stream.iterator = function llmsecObservedIterator(this: unknown): AsyncIterator<unknown> {
    const inner = original.call(this);
    // A second read (tee branches share one) is passed through: the call is observed once.
    if (used) return inner;
    used = true;
    return observe(inner, observer);
  };
}

async function* observe(inner: AsyncIterator<unknown>, observer: StreamObserver): AsyncGenerator<unknown> {
  let finished = false;
  try {
    const iterable = { [Symbol.asyncIterator]: () => inner };
    for await (const item of iterable) {
      const delta = observer.accumulator.observe(item);
      if (delta.length > 0) observer.onDelta(delta);
      yield item;
    }
    finished = true;
    await observer.onEnd(observer.accumulator.complete);
  } catch (err) {
    if (!finished) {
      finished = true;
      observer.onError(err);
    }
    throw err;
  } finally {
    if (!finished) observer.onAbandon();
  }
}
