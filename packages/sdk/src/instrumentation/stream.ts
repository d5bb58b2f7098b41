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
  /**
   * Called with each item's added text; throw to cut the stream (the request is aborted).
   * Returns how many characters at the end of the text so far must not reach the reader yet:
   * items are held back (in order) until a later delta releases them or the stream ends.
   */
  onDelta(delta: string): number;
  /** The stream ended; `complete` is false when it ended without the provider's terminal item. Held items are released after it. */
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

/** Items held back, with the text offset each one ends at; a FIFO without shift() (linear). */
class HeldItems {
  private items: unknown[] = [];
  private ends: number[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: unknown, end: number): void {
    this.items.push(item);
    this.ends.push(end);
  }

  /** The oldest item if it ends at or before `safe` (removed), else the marker. */
  takeIfBefore(safe: number): unknown {
    if (this.head >= this.items.length || (this.ends[this.head] as number) > safe) return NONE;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.ends = [];
      this.head = 0;
    }
    return item;
  }
}

const NONE = Symbol('none');

async function* observe(inner: AsyncIterator<unknown>, observer: StreamObserver): AsyncGenerator<unknown> {
  let finished = false;
  const held = new HeldItems();
  let offset = 0;
  try {
    const iterable = { [Symbol.asyncIterator]: () => inner };
    for await (const item of iterable) {
      const delta = observer.accumulator.observe(item);
      let hold = 0;
      if (delta.length > 0) {
        offset += delta.length;
        hold = observer.onDelta(delta);
      }
      if (hold <= 0 && held.size === 0) {
        yield item; // the common path: nothing held
        continue;
      }
      held.push(item, offset);
      const safe = offset - Math.max(0, hold);
      for (let next = held.takeIfBefore(safe); next !== NONE; next = held.takeIfBefore(safe)) yield next;
    }
    finished = true;
    await observer.onEnd(observer.accumulator.complete);
    for (let next = held.takeIfBefore(Infinity); next !== NONE; next = held.takeIfBefore(Infinity)) yield next;
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
