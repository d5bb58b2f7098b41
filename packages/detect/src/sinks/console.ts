import type { Meter } from '@opentelemetry/api';
import { encodeAlert, type Alert } from '@llmsec/core';
import type { AlertSink } from './types.ts';
import { notificationCounter, type RecordNotifications } from './notification-counter.ts';
import { sinkErrors } from './sink-errors.ts';

/** How many times maxBufferedBytes the lines of one turn of the event loop may hold. */
const BURST_FACTOR = 16;

export interface ConsoleSinkOptions {
  /** Where the alert JSONL lines go. @default process.stdout */
  stream?: NodeJS.WritableStream;
  /** @default 'console' */
  name?: string;
  /**
   * Most bytes of lines the stream's destination has not taken (a pipe whose reader stalled, a
   * slow disk) since an earlier turn of the event loop. Past it a line is dropped and counted
   * instead of held: a stream buffers without limit, and an attack that fires alerts would grow
   * the process with them. The lines of one turn may add up to BURST_FACTOR (16) times as much:
   * no stream takes anything within a turn (write callbacks come later), and an incident sweep
   * that resolves thousands at once must reach a stream that keeps up.
   * @default 1048576 (1 MiB)
   */
  maxBufferedBytes?: number;
  /** Counts `llmsec.alert.notifications{sink, outcome}`. @default the global meter provider's */
  meter?: Meter;
  /** Called on the first line dropped (once per sink), e.g. to log it; must not throw. */
  onDrop?: (bufferedBytes: number) => void;
  /**
   * The longest `forceFlush()` / `shutdown()` wait for the stream to take what it holds (a
   * stalled reader would make it wait forever, and the host's shutdown with it), as the HTTP
   * sinks' option of that name. @default 10_000
   */
  flushTimeoutMs?: number;
}

/**
 * Writes each firing and resolve as one alert JSONL line (docs/formats.md section 2):
 * what `llmsec replay` prints and what jq, Loki or a SIEM can read. A line counts as sent once
 * the stream took it (its write callback), failed on a write error, dropped past
 * `maxBufferedBytes`.
 */
export class ConsoleSink implements AlertSink {
  readonly name: string;
  private readonly stream: NodeJS.WritableStream;
  private readonly maxBufferedBytes: number;
  private readonly record: RecordNotifications;
  private readonly onDrop: ((bufferedBytes: number) => void) | undefined;
  private readonly flushTimeoutMs: number;
  /** Bytes written whose write callback has not come: our own count, for any stream. */
  private buffered = 0;
  /** `buffered` at this turn's first send (undefined between turns): what the stream did not take in time. */
  private heldAtTurnStart: number | undefined;
  private dropped = false;
  private shutdownPromise: Promise<void> | undefined;

  constructor(options: ConsoleSinkOptions = {}) {
    this.name = options.name ?? 'console';
    this.stream = options.stream ?? process.stdout;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 1_048_576;
    if (!(this.maxBufferedBytes >= 0)) {
      throw new RangeError(`ConsoleSink: maxBufferedBytes must be >= 0, got ${this.maxBufferedBytes}`);
    }
    this.flushTimeoutMs = options.flushTimeoutMs ?? 10_000;
    if (!(this.flushTimeoutMs >= 0)) {
      throw new RangeError(`ConsoleSink: flushTimeoutMs must be >= 0, got ${this.flushTimeoutMs}`);
    }
    this.record = notificationCounter(options.meter, this.name);
    this.onDrop = options.onDrop;
  }

  send(alert: Alert): void {
    if (this.shutdownPromise !== undefined) return;
    try {
      const line = `${encodeAlert(alert)}\n`;
      const bytes = Buffer.byteLength(line);
      if (this.buffered + bytes > this.limitThisTurn()) {
        this.drop();
        return;
      }
      this.buffered += bytes;
      try {
        this.stream.write(line, (err?: Error | null) => {
          this.buffered -= bytes;
          this.record(err ? 'failed' : 'sent', 1);
        });
      } catch (err) {
        this.buffered -= bytes;
        this.record('failed', 1);
        throw err;
      }
    } catch (err) {
      sinkErrors.report('console.write', err);
    }
  }

  /**
   * maxBufferedBytes once the stream left more than that from earlier turns (it is not keeping
   * up); otherwise BURST_FACTOR times it, the most one turn's burst may hold.
   */
  private limitThisTurn(): number {
    if (this.heldAtTurnStart === undefined) {
      this.heldAtTurnStart = this.buffered;
      setImmediate(() => (this.heldAtTurnStart = undefined));
    }
    return this.heldAtTurnStart > this.maxBufferedBytes
      ? this.maxBufferedBytes
      : this.maxBufferedBytes * BURST_FACTOR;
  }

  private drop(): void {
    this.record('dropped', 1);
    if (this.dropped) return;
    this.dropped = true;
    try {
      this.onDrop?.(this.buffered);
    } catch (err) {
      sinkErrors.report('console.onDrop', err);
    }
  }

  /**
   * Waits until the stream has handed its buffered lines to the OS, at most `flushTimeoutMs`
   * (then the lines stay with the stream, which may still deliver them).
   */
  async forceFlush(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        // An empty write calls back after everything written before it (or with the stream's error).
        new Promise<void>((resolve) => this.stream.write('', () => resolve())),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.flushTimeoutMs);
          timer.unref();
        }),
      ]);
    } catch (err) {
      sinkErrors.report('console.flush', err);
    } finally {
      clearTimeout(timer);
    }
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.forceFlush();
    return this.shutdownPromise;
  }
}
