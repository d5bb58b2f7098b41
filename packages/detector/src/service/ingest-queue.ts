import type { SecurityEvent } from '@llmsec/core';
import type { EventBatch } from './record-events.ts';
import { TargetWaiters } from './target-waiters.ts';

export interface IngestQueueOptions {
  /** Most events held; an export that would exceed it is refused whole (the sender retries), unless the queue is empty. */
  capacity: number;
  /**
   * Most bytes the events held may hold (EventBatch.bytes, estimated from above), refused as
   * `capacity` is: events of a few hundred bytes reach `capacity` first, events filled to
   * core's caps (~0.5 MB each) this. @default Infinity
   */
  maxBytes?: number;
  /** Events processed per turn of the event loop, so receivers keep answering while it drains. @default 4096 */
  chunk?: number;
  /** Called for each event, in arrival order. Must not throw (exceptions are passed to onError). */
  process: (event: SecurityEvent, timeMs: number) => void;
  onError: (err: unknown) => void;
  /**
   * Work the consumer still holds (e.g. the engine's Redis flush queue): draining pauses
   * while it is at `maxBacklog`, so the backlog stays here, where a full queue refuses
   * exports (retried) instead of dropping events.
   */
  backlog?: () => number;
  /** @default Infinity */
  maxBacklog?: number;
  /** Tests: called with the number of whenProcessed() waiters copied when their list is compacted. */
  onWaiterMove?: (n: number) => void;
}

/**
 * The bounded hand-off between the receivers and the engine. A receiver offers the events of
 * one export request all at once: taken whole, or refused whole when they would not fit, so
 * the receiver can answer 429 / RESOURCE_EXHAUSTED and the Collector's retry loses nothing.
 * Draining runs on setImmediate in chunks: a flood never starves the HTTP and gRPC servers.
 */
export class IngestQueue {
  private readonly capacity: number;
  private readonly maxBytes: number;
  private readonly chunk: number;
  private readonly process: (event: SecurityEvent, timeMs: number) => void;
  private readonly onError: (err: unknown) => void;
  private readonly backlog: (() => number) | undefined;
  private readonly maxBacklog: number;
  private paused: NodeJS.Timeout | undefined;
  private batches: EventBatch[] = [];
  /** Index of the next batch to read, and the position inside it. */
  private head = 0;
  private pos = 0;
  private size = 0;
  private refusedBy: 'capacity' | 'maxBytes' | undefined;
  /** EventBatch.bytes of the batches not yet wholly processed. */
  private bytes = 0;
  private scheduled: NodeJS.Immediate | undefined;
  private idleWaiters: (() => void)[] = [];
  /** Events ever offered and taken, and ever processed: what whenProcessed() compares. */
  private offeredTotal = 0;
  private processedTotal = 0;
  private readonly processedWaiters: TargetWaiters;

  constructor(options: IngestQueueOptions) {
    if (!Number.isSafeInteger(options.capacity) || options.capacity < 1)
      throw new TypeError('IngestQueue: capacity must be a positive integer');
    this.capacity = options.capacity;
    this.maxBytes = options.maxBytes ?? Infinity;
    this.chunk = options.chunk ?? 4096;
    this.process = options.process;
    this.onError = options.onError;
    this.backlog = options.backlog;
    this.maxBacklog = options.maxBacklog ?? Infinity;
    this.processedWaiters = new TargetWaiters(options.onWaiterMove);
  }

  /** Events waiting. */
  get depth(): number {
    return this.size;
  }

  /** EventBatch.bytes of the batches waiting (a batch counts until its last event is processed). */
  get heldBytes(): number {
    return this.bytes;
  }

  /**
   * The bound the last refused offer() met: `capacity` (events) or `maxBytes`, so the refusal
   * can be counted by the setting an operator would raise. Undefined before any refusal.
   */
  get lastRefusal(): 'capacity' | 'maxBytes' | undefined {
    return this.refusedBy;
  }

  /**
   * Takes the whole batch, or nothing when it would not fit. An empty batch is always taken, and
   * so is any batch when the queue is empty: one larger than the whole capacity would otherwise
   * be refused on every retry and dropped by the sender. The receivers' decode caps bound a
   * batch, so the queue holds at most max(capacity, one batch).
   */
  offer(batch: EventBatch): boolean {
    const n = batch.events.length;
    if (n === 0) return true;
    const bytes = batch.bytes ?? 0;
    if (this.size > 0) {
      if (this.size + n > this.capacity) return this.refuse('capacity');
      if (this.bytes + bytes > this.maxBytes) return this.refuse('maxBytes');
    }
    this.batches.push(batch);
    this.size += n;
    this.bytes += bytes;
    this.offeredTotal += n;
    this.schedule();
    return true;
  }

  private refuse(bound: 'capacity' | 'maxBytes'): false {
    this.refusedBy = bound;
    return false;
  }

  /** Resolves once every event offered so far has been processed. */
  whenIdle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Resolves once every event offered so far has been handed to `process` (those offered later
   * are not waited for, unlike whenIdle, so a steady stream does not hold it).
   */
  whenProcessed(): Promise<void> {
    if (this.processedTotal >= this.offeredTotal) return Promise.resolve();
    return this.processedWaiters.wait(this.offeredTotal);
  }

  /** Processes everything now, synchronously (shutdown, tests). */
  drainNow(): void {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    if (this.paused !== undefined) clearTimeout(this.paused);
    this.scheduled = undefined;
    this.paused = undefined;
    while (this.size > 0) this.run(Number.MAX_SAFE_INTEGER);
    this.settleIdle();
  }

  private schedule(): void {
    if (this.scheduled !== undefined || this.paused !== undefined) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      let budget = this.chunk;
      if (this.backlog !== undefined) budget = Math.min(budget, this.maxBacklog - this.backlog());
      if (budget <= 0) {
        // The consumer is behind: look again shortly (its flusher runs meanwhile).
        this.paused = setTimeout(() => {
          this.paused = undefined;
          this.schedule();
        }, 5);
        return;
      }
      this.run(budget);
      if (this.size > 0) this.schedule();
      else this.settleIdle();
    });
  }

  private run(budget: number): void {
    while (budget > 0 && this.size > 0) {
      const batch = this.batches[this.head]!;
      const { events, times } = batch;
      const end = Math.min(events.length, this.pos + budget);
      for (let i = this.pos; i < end; i++) {
        try {
          this.process(events[i]!, times[i]!);
        } catch (err) {
          this.onError(err);
        }
      }
      const done = end - this.pos;
      budget -= done;
      this.size -= done;
      this.processedTotal += done;
      if (end === events.length) {
        this.bytes -= batch.bytes ?? 0;
        this.batches[this.head] = undefined as unknown as EventBatch;
        this.head++;
        this.pos = 0;
        // Compact now and then so the batch list does not grow without bound.
        if (this.head > 1024 || this.head === this.batches.length) {
          this.batches = this.batches.slice(this.head);
          this.head = 0;
        }
      } else {
        this.pos = end;
      }
    }
    this.settleProcessed();
  }

  /** After each run: the whenProcessed() callers whose events are all processed (targets only grow). */
  private settleProcessed(): void {
    this.processedWaiters.settle(this.processedTotal);
  }

  private settleIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
