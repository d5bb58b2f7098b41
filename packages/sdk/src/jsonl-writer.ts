import { createWriteStream, openSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { encodeEvent, type SecurityEvent } from '@llmsec/core';
import { boundedWait } from './bounded-wait.ts';
import { reportTelemetryError } from './errors.ts';

/**
 * The structured security log: one events.md JSONL line per event, to stdout, a file
 * (appended) or any Writable. Writing never blocks or throws into the caller: while the
 * stream applies backpressure, lines wait in a bounded buffer; past `maxPending` they are
 * dropped and counted (`llmsec.telemetry.errors{component="jsonl", error_type="queue_full"}`).
 */
export type JsonlDestination = 'stdout' | { path: string } | Writable;

export interface JsonlEventWriterOptions {
  destination: JsonlDestination;
  /** Lines held while the stream is not draining. @default 10000 */
  maxPending?: number;
  /**
   * How long `flush()` and `close()` wait for the stream to take the lines written so far (a
   * stdout nobody reads never does); `setupLlmsec` passes `OTEL_BLRP_EXPORT_TIMEOUT`.
   * @default 30000 (the OpenTelemetry export timeout's default)
   */
  flushTimeoutMs?: number;
}

/** The OpenTelemetry batch processors' default export timeout (OTEL_BLRP_EXPORT_TIMEOUT). */
const DEFAULT_FLUSH_TIMEOUT_MS = 30_000;

export class JsonlEventWriter {
  private readonly stream: Writable;
  /** We end streams we opened (files), never stdout or a caller's stream. */
  private readonly ownsStream: boolean;
  private readonly maxPending: number;
  private readonly flushTimeoutMs: number;
  /** Lines waiting for 'drain': read from `head` on (no shift(): each would move the whole array). */
  private pending: string[] = [];
  private head = 0;
  private waitingForDrain = false;
  private broken = false;
  private closed: Promise<void> | undefined;
  private droppedCount = 0;
  private writtenCount = 0;
  /** Lines whose write callback has run: the stream handed them on (or failed them). */
  private takenCount = 0;
  private streamClosed = false;
  /** Wake-ups for the wait in allTaken(), called on each sign of progress. */
  private waiters: Array<() => void> = [];
  /** The one wait in progress, shared by every flush (a flush given up on leaves no waiter behind). */
  private settling: Promise<void> | undefined;

  constructor(options: JsonlEventWriterOptions) {
    const destination = options?.destination;
    this.maxPending = options.maxPending ?? 10_000;
    if (!Number.isInteger(this.maxPending) || this.maxPending < 0) {
      throw new TypeError(
        `JsonlEventWriter: maxPending must be a non-negative integer, got ${String(options.maxPending)}`,
      );
    }
    this.flushTimeoutMs = options.flushTimeoutMs ?? DEFAULT_FLUSH_TIMEOUT_MS;
    if (!Number.isFinite(this.flushTimeoutMs) || this.flushTimeoutMs < 0) {
      throw new TypeError(
        `JsonlEventWriter: flushTimeoutMs must be a non-negative number, got ${String(options.flushTimeoutMs)}`,
      );
    }
    if (destination === 'stdout') {
      this.stream = process.stdout;
      this.ownsStream = false;
    } else if (destination !== null && typeof destination === 'object' && 'path' in destination) {
      if (typeof destination.path !== 'string' || destination.path.length === 0) {
        throw new TypeError('JsonlEventWriter: destination.path must be a non-empty string');
      }
      // Opened here, not by the stream (which opens later and reports failure as an 'error'
      // event): a path that cannot be opened is bad configuration, thrown at start-up, not a
      // log that silently drops every line.
      let fd: number;
      try {
        fd = openSync(destination.path, 'a');
      } catch (err) {
        throw new Error(
          `JsonlEventWriter: cannot open destination.path ${JSON.stringify(destination.path)}: ${(err as Error).message}`,
        );
      }
      this.stream = createWriteStream(destination.path, { fd, flags: 'a' });
      this.ownsStream = true;
    } else if (
      destination !== null &&
      typeof destination === 'object' &&
      typeof destination.write === 'function'
    ) {
      this.stream = destination;
      this.ownsStream = false;
    } else {
      throw new TypeError("JsonlEventWriter: destination must be 'stdout', { path } or a Writable stream");
    }
    this.stream.on('error', this.onError);
    this.stream.on('drain', this.onDrain);
    this.stream.on('close', this.onClose);
  }

  /** Lines dropped because the buffer was full or the stream failed. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Lines handed to the stream. */
  get written(): number {
    return this.writtenCount;
  }

  write(event: SecurityEvent): void {
    let line: string;
    try {
      line = encodeEvent(event) + '\n';
    } catch (err) {
      reportTelemetryError('jsonl', err);
      return;
    }
    if (this.broken || this.closed !== undefined) {
      this.drop(1, 'closed');
      return;
    }
    if (this.waitingForDrain) {
      if (this.pending.length - this.head >= this.maxPending) this.drop(1, 'queue_full');
      else this.pending.push(line);
      return;
    }
    this.writeLine(line);
  }

  /**
   * Resolves when the stream has taken every line written so far (each write's callback ran:
   * handed to the OS for stdout and files), or when it failed or closed, or after
   * `flushTimeoutMs`. Waiting only for 'drain' was not enough: Node writes stdout to a full pipe
   * asynchronously, so lines the stream had accepted were still queued in it, and an app that
   * exits after `await shutdown()` lost them (test jsonl-stdout-exit). The bound: a stdout nobody reads must not
   * hold the host's shutdown for ever (what is still queued then is lost, as at any exit).
   */
  async flush(): Promise<void> {
    if (!this.mustWait()) return;
    this.settling ??= this.allTaken().finally(() => (this.settling = undefined));
    await boundedWait(this.settling, this.flushTimeoutMs);
  }

  private mustWait(): boolean {
    return (
      !this.broken && !this.streamClosed && (this.waitingForDrain || this.takenCount < this.writtenCount)
    );
  }

  private async allTaken(): Promise<void> {
    while (this.mustWait()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    if (waiters.length === 0) return;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Flushes, then ends the stream if this writer opened it. Idempotent. */
  close(): Promise<void> {
    this.closed ??= this.doClose();
    return this.closed;
  }

  private async doClose(): Promise<void> {
    try {
      await this.flush();
      // Lines still waiting for 'drain' after the bound are never written now: count them.
      this.drop(this.pending.length - this.head, 'closed');
      this.pending = [];
      this.head = 0;
      if (this.ownsStream && !this.broken) {
        await new Promise<void>((resolve) => {
          this.stream.once('error', () => resolve());
          this.stream.end(() => resolve());
        });
      }
    } catch (err) {
      reportTelemetryError('jsonl', err);
    } finally {
      this.stream.off('drain', this.onDrain);
      this.stream.off('close', this.onClose);
      // Leave no listeners on stdout or a caller's stream (many writers would leak them); a
      // stream we opened keeps its error listener, since an unhandled stream error would crash.
      if (!this.ownsStream) this.stream.off('error', this.onError);
    }
  }

  private writeLine(line: string): void {
    try {
      this.writtenCount++;
      if (!this.stream.write(line, this.onWritten)) this.waitingForDrain = true;
    } catch (err) {
      this.broken = true;
      reportTelemetryError('jsonl', err);
    }
  }

  /** A write's callback (writes complete in order; one shared function, no closure per line). */
  private readonly onWritten = (): void => {
    this.takenCount++;
    if (this.takenCount >= this.writtenCount) this.wake();
  };

  private readonly onClose = (): void => {
    this.streamClosed = true;
    this.wake();
  };

  private readonly onDrain = (): void => {
    this.waitingForDrain = false;
    const lines = this.pending;
    while (this.head < lines.length && !this.waitingForDrain && !this.broken) {
      const line = lines[this.head] as string;
      lines[this.head++] = ''; // let the written line be collected
      this.writeLine(line);
    }
    if (this.head === lines.length) {
      this.pending = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= lines.length) {
      // Waiting again with most of the array written: keep only the rest (amortised linear).
      this.pending = lines.slice(this.head);
      this.head = 0;
    }
    this.wake();
  };

  private readonly onError = (err: unknown): void => {
    // A file that cannot be written (disk full, permissions) stops the log, not the app.
    this.broken = true;
    this.drop(this.pending.length - this.head, 'write_failed');
    this.pending = [];
    this.head = 0;
    reportTelemetryError('jsonl', err);
    this.wake();
  };

  private drop(n: number, reason: 'queue_full' | 'closed' | 'write_failed'): void {
    if (n <= 0) return;
    this.droppedCount += n;
    // The funnel counts each report and throttles its log line, so this cannot flood.
    reportTelemetryError('jsonl', undefined, reason);
  }
}
