import type { StreamAccumulator } from './adapter.ts';
import { itemChars } from './held-chars.ts';
import { HeldItems, NONE } from './held-items.ts';
import { heldTooLong } from './stream-limit.ts';

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
   * `item`: the item the delta was read from.
   */
  onDelta(delta: string, item: unknown): number;
  /**
   * The stream ended; `complete` is false when it ended without the provider's terminal item.
   * Held items are released after it. `release` makes every held item what the reader gets
   * (`deliver` on each, in order, now) and throws what a `deliver` throws: call it once the end
   * checks pass and before recording the call's outcome, so that outcome is what the reader
   * sees (the read then fails with that error). Not called: it runs after onEnd passes.
   */
  onEnd(complete: boolean, release: () => void): void | Promise<void>;
  /**
   * The read failed with `err`. May return another Error for the reader to get in its place
   * (an accumulator's StreamLimitError becomes the block it is); anything else: `err` itself.
   */
  onError(err: unknown): unknown;
  /** The application stopped reading early (break / return). */
  onAbandon(): void;
  /**
   * Called on every item, in order, as it is handed to the reader (held or not); returns what
   * the reader gets (a guard's rewrite of its text), or an ItemRun: several items in its place,
   * in order. Absent: the items pass as they came.
   */
  deliver?(item: unknown): unknown;
  /**
   * Called after each item is observed, until it answers true: then that item and every later
   * one are held until the end checks pass (text the chunk checks cannot read before delivery,
   * such as a refusal's pieces, on a stream whose guards may block on it at the end). Absent:
   * never. What is held at once is capped (HeldItems.cap, MAX_HELD_CHARS): past it the stream
   * is cut, reported as a block (StreamLimitError).
   */
  holdToEnd?(item: unknown): boolean;
}

type IteratorFactory = (this: unknown) => AsyncIterator<unknown>;

/**
 * What a `deliver` returns to hand the reader several items for one (in order): a redact
 * stream sends tool-call arguments it kept back as one delta just before the item that ends
 * the call (Anthropic's content_block_stop, a Responses arguments done event), since the
 * reader's helpers build the call from the deltas and finish it at that item.
 */
export class ItemRun {
  readonly items: readonly unknown[];
  constructor(items: readonly unknown[]) {
    this.items = items;
  }
}

export function isObservableStream(value: unknown): value is { iterator: IteratorFactory } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { iterator?: unknown }).iterator === 'function'
  );
}

export function observeStream(stream: { iterator: IteratorFactory }, observer: StreamObserver): void {
  stream.iterator = observedIterator(stream.iterator, observer);
}

/**
 * The stream's `iterator` with ours around it. Made here and returned, not written as
 * `stream.iterator = function …` in observeStream: V8's parser allocates a function literal
 * assigned straight to a property in the old generation, and that dead closure kept its context
 * (`original`, `used`, `observer`) and the call's objects through every scavenge, as
 * call-response.ts's did (fd608de): 4.5 KB promoted per streamed call with every record dropped,
 * 3.2-3.3 KB now, the plain client 2.4 (test/instr-young-garbage.test.ts).
 */
function observedIterator(original: IteratorFactory, observer: StreamObserver): IteratorFactory {
  let used = false;
  return function llmsecObservedIterator(this: unknown): AsyncIterator<unknown> {
    const inner = original.call(this);
    // A second read (tee branches share one) is passed through: the call is observed once.
    if (used) return inner;
    used = true;
    return observeIterator(inner, observer);
  };
}

/**
 * The observed iterator: what the async generator
 *
 *   for await (const item of inner) { observe; onDelta; yield item (or hold it back) }
 *   await onEnd(complete); yield the held items
 *
 * with a try/catch (onError) and a finally (onAbandon) around it would do, written out by
 * hand. A generator costs several promises and a resumption per item, on top of the inner
 * iterator's own; here an item on the common path (nothing held) costs one `then` on the
 * inner `next()` and passes the inner result object through. Requests are served in order,
 * as a generator serves them: a call made while another is pending waits for it.
 *
 * Two differences, deliberate: `return()` before the first `next()` counts as abandoning the
 * stream (a generator that never started would skip its finally, leaving the call open); and
 * an item that adds no text keeps the held items held (the generator computed the watermark
 * with no hold for it, so OpenAI's closing chunk released the held tail before the response's
 * end checks ran: text a guard held back reached the reader even when the end check blocked).
 */
class ObservedIterator implements AsyncIterableIterator<unknown> {
  private readonly inner: AsyncIterator<unknown>;
  private readonly observer: StreamObserver;
  private readonly held: HeldItems;
  /** Characters of text seen so far. */
  private offset = 0;
  /** Held items ending at or before this offset may be delivered. */
  private safe = 0;
  /** holdToEnd answered true: nothing is released before the end checks. */
  private frozen = false;
  /** The held items were passed through `deliver` at the end (release): they go out as they are. */
  private released = false;
  /** The items of an ItemRun after the one handed out, handed out before anything else. */
  private run: unknown[] | undefined;
  /** open: reading the inner iterator; ended: it ended and onEnd passed, held items drain; done. */
  private state: 'open' | 'ended' | 'done' = 'open';
  /** Requests started or waiting and not yet answered; the last one handed out. */
  private pending = 0;
  private last: Promise<IteratorResult<unknown>> | undefined;

  constructor(inner: AsyncIterator<unknown>, observer: StreamObserver, held: HeldItems) {
    this.inner = inner;
    this.observer = observer;
    this.held = held;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    return this.request(this.step);
  }

  return(value?: unknown): Promise<IteratorResult<unknown>> {
    return this.request(() => this.stop(value));
  }

  throw(err?: unknown): Promise<IteratorResult<unknown>> {
    return this.request(() => this.fault(err));
  }

  /** Runs `op` now, or after the requests before it when one is still pending. */
  private request(op: () => Promise<IteratorResult<unknown>>): Promise<IteratorResult<unknown>> {
    const run = this.pending === 0 ? op() : (this.last as Promise<IteratorResult<unknown>>).then(op, op);
    this.pending++;
    this.last = run;
    return run;
  }

  /** Every request ends through one of these two, exactly once. */
  private answer(result: IteratorResult<unknown>): IteratorResult<unknown> {
    this.pending--;
    return result;
  }

  private refuse(err: unknown): never {
    this.pending--;
    throw err;
  }

  private readonly step = (): Promise<IteratorResult<unknown>> => {
    if (this.state === 'done') return Promise.resolve(this.answer({ value: undefined, done: true }));
    const more = this.run?.shift();
    if (this.run !== undefined && this.run.length === 0) this.run = undefined;
    if (more !== undefined) return Promise.resolve(this.answer({ value: more, done: false }));
    const ready = this.held.takeIfBefore(this.safe);
    if (ready !== NONE)
      return Promise.resolve(this.released ? this.answer({ value: ready, done: false }) : this.give(ready));
    if (this.state === 'ended') {
      this.state = 'done';
      return Promise.resolve(this.answer({ value: undefined, done: true }));
    }
    return this.pull();
  };

  private pull(): Promise<IteratorResult<unknown>> {
    let item: Promise<IteratorResult<unknown>>;
    try {
      item = this.inner.next();
    } catch (err) {
      return Promise.resolve().then(() => this.innerFailed(err));
    }
    return Promise.resolve(item).then(this.onItem, this.innerFailed);
  }

  private readonly onItem = (
    r: IteratorResult<unknown>,
  ): IteratorResult<unknown> | Promise<IteratorResult<unknown>> => {
    if (this.state !== 'open') return this.answer({ value: undefined, done: true });
    if (r.done) return this.end();
    const item = r.value;
    let hold = 0;
    try {
      const delta = this.observer.accumulator.observe(item);
      if (delta.length > 0) {
        this.offset += delta.length;
        hold = this.observer.onDelta(delta, item);
        // Only a guard's answer to new text moves the watermark: an item without text (OpenAI's
        // finish chunk, a usage chunk, Anthropic's message_delta) releases nothing held.
        if (!this.frozen) this.safe = this.offset - Math.max(0, hold);
      }
      if (!this.frozen && this.observer.holdToEnd?.(item) === true) {
        this.frozen = true;
        this.safe = -1; // this item (it ends at the offset so far) and every later one
      }
    } catch (err) {
      // A guard cut the stream: close the inner iterator, then report and fail the read.
      return this.fault(err);
    }
    if (hold <= 0 && this.held.size === 0 && !this.frozen) {
      // The common path: nothing held.
      return this.observer.deliver === undefined ? this.answer(r) : this.give(item);
    }
    const held = this.held;
    // An item that ends where the text may be shown waits only for the ones before it: it is
    // taken at the reader's next request, before anything is read, so it is not held back and
    // its characters are not counted against the cap (no walk of it).
    held.push(item, this.offset, this.offset <= this.safe ? 0 : itemChars(item));
    const ready = held.takeIfBefore(this.safe);
    // What stays held is capped (a block stream holds whole from its first audio or refusal
    // piece): past it the stream is cut here, nothing held delivered (fail closed).
    if (held.chars > held.cap) return this.fault(heldTooLong(held.cap));
    return ready !== NONE ? this.give(ready) : this.pull();
  };

  /**
   * The item as the reader gets it. A `deliver` that throws (a rewrite that could neither
   * rewrite nor withhold the item's text) cuts the stream there, as a guard's block does: the
   * item is never handed over as it came (fail closed).
   */
  private give(item: unknown): IteratorResult<unknown> | Promise<IteratorResult<unknown>> {
    if (this.observer.deliver === undefined) return this.answer({ value: item, done: false });
    let value: unknown;
    try {
      value = this.observer.deliver(item);
    } catch (err) {
      return this.fault(err);
    }
    if (value instanceof ItemRun) {
      // The first now, the rest by the next requests (step), before any other item.
      this.run = value.items.slice(1);
      value = value.items[0];
    }
    return this.answer({ value, done: false });
  }

  private readonly innerFailed = (err: unknown): never => {
    if (this.state === 'open') {
      this.state = 'done';
      this.observer.onError(err);
    }
    return this.refuse(err);
  };

  /** The inner iterator ended: the end checks, then the held items, then done. */
  private end(): Promise<IteratorResult<unknown>> {
    this.state = 'ended';
    let ending: void | Promise<void>;
    try {
      ending = this.observer.onEnd(this.observer.accumulator.complete, this.release);
    } catch (err) {
      ending = Promise.reject(err);
    }
    return Promise.resolve(ending).then(
      () => {
        try {
          this.release();
        } catch (err) {
          // onEnd did not release (an observer without a call to record): the read fails here.
          this.state = 'done';
          this.observer.onError(err);
          return this.refuse(err);
        }
        this.safe = Infinity;
        return this.step(); // the same request goes on: the first held item, or done
      },
      (err: unknown) => {
        this.state = 'done';
        return this.refuse(err);
      },
    );
  }

  /**
   * The end checks passed: every held item is passed through `deliver` now, in order, rather
   * than as the reader takes it. A deliver that throws (the withhold marker could not be
   * written) then fails before the call's outcome is recorded, not after it was recorded as
   * completed while the reader got the error. Once per stream; at the end only, not per item.
   */
  private readonly release = (): void => {
    if (this.released) return;
    this.released = true;
    const deliver = this.observer.deliver;
    if (deliver === undefined) return;
    // Each held item taken from the front and its delivered form pushed at the back: the order kept.
    for (let n = this.held.size; n > 0; n--) {
      const value = deliver(this.held.takeIfBefore(Infinity));
      if (value instanceof ItemRun) for (const v of value.items) this.held.push(v, 0);
      else this.held.push(value, 0);
    }
  };

  /** The reader stopped (break, return, cancel): close the inner iterator; the call is abandoned. */
  private stop(value: unknown): Promise<IteratorResult<unknown>> {
    if (this.state !== 'open') {
      this.state = 'done';
      return Promise.resolve(this.answer({ value, done: true }));
    }
    this.state = 'done';
    let closing: unknown;
    try {
      closing = this.inner.return?.();
    } catch (err) {
      closing = Promise.reject(err);
    }
    return Promise.resolve(closing).then(
      () => {
        this.observer.onAbandon();
        return this.answer({ value, done: true });
      },
      (err: unknown) => {
        this.observer.onAbandon();
        return this.refuse(err);
      },
    );
  }

  /** An error at the reader's position (a guard's cut, or throw()): close the inner iterator, report, rethrow. */
  private fault(err: unknown): Promise<IteratorResult<unknown>> {
    if (this.state !== 'open') {
      this.state = 'done';
      return Promise.resolve().then(() => this.refuse(err));
    }
    this.state = 'done';
    let closing: unknown;
    try {
      closing = this.inner.return?.();
    } catch {
      closing = undefined;
    }
    // As when a for-await loop is left by an exception: the inner return()'s own failure is ignored.
    const report = (): never => {
      const shown = this.observer.onError(err);
      return this.refuse(shown instanceof Error ? shown : err);
    };
    return Promise.resolve(closing).then(report, report);
  }
}

/** The observed iterator over `inner`; `held` is the queue of held items (given by tests to watch its length). */
export function observeIterator(
  inner: AsyncIterator<unknown>,
  observer: StreamObserver,
  held: HeldItems = new HeldItems(),
): AsyncIterableIterator<unknown> {
  return new ObservedIterator(inner, observer, held);
}
