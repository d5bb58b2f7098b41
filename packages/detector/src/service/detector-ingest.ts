import type { DecodedLogRecord, DecodedSpan, IngestResult, OtlpIngest } from '../otlp/types.ts';
import type { GenAiSpanOptions } from './genai-span.ts';
import type { IngestQueue } from './ingest-queue.ts';
import { invalidEventDetail } from './invalid-event.ts';
import type { DetectorMetrics, Signal } from './metrics.ts';
import {
  logRecordToEvent,
  newBatch,
  spanToEvents,
  type EventBatch,
  type RejectReason,
  type UnusableSpanEvents,
} from './record-events.ts';

export interface DetectorIngestOptions {
  queue: IngestQueue;
  metrics: DetectorMetrics;
  genAi: GenAiSpanOptions;
  /** Retry-After when the queue is full or the service is draining. @default 1 */
  retryAfterSeconds?: number;
  /** Internal failures (never thrown to the receivers). */
  onError: (err: unknown) => void;
  /**
   * Resolves once the events the engine has been fed so far are shipped to the shared state
   * (DetectionEngine.shipped): when given, an export is answered only then (at most
   * `maxAnswerWaitMs` later). Without it, once queued.
   */
  shipped?: () => Promise<void>;
  /** @default ANSWER_WAIT_MS */
  maxAnswerWaitMs?: number;
  /**
   * An export answered at the bound before its events were shipped (also counted as
   * llmsec_detector_answers_unshipped_total): the service logs it, rate-limited.
   */
  onUnshipped?: (signal: Signal) => void;
}

/**
 * Longest an accepted export's answer waits for its events to be shipped. Under the OTLP
 * exporters' timeouts (the Collector's 5 s, the JS SDK's 10 s), so a slow Redis cannot turn
 * into timeouts and re-sends; past it the export is answered anyway (its events stay queued,
 * and are shipped in order with the rest), as before this wait existed. Redis failing does
 * not hold it: its events go to the fallback engine and the wait ends.
 */
export const ANSWER_WAIT_MS = 2_000;

/**
 * The service side of the OTLP receivers: turns one decoded export request into security
 * events (llmsec log records, llmsec span events, GenAI spans of other instrumentations),
 * counts what is not usable by reason (answered as OTLP partial success), and hands the
 * events to the bounded queue whole, or refuses the request whole so the sender retries.
 * Duplicates (the same event as span event and log record, a retried export) are dropped
 * later by the engine's ingestOnce, by event id.
 */
export class DetectorIngest implements OtlpIngest {
  private readonly queue: IngestQueue;
  private readonly metrics: DetectorMetrics;
  private readonly genAi: GenAiSpanOptions;
  private readonly retryAfterSeconds: number;
  private readonly onError: (err: unknown) => void;
  private readonly shipped: (() => Promise<void>) | undefined;
  private readonly maxAnswerWaitMs: number;
  private readonly onUnshipped: ((signal: Signal) => void) | undefined;
  private accepting = true;

  constructor(options: DetectorIngestOptions) {
    this.queue = options.queue;
    this.metrics = options.metrics;
    this.genAi = options.genAi;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1;
    this.onError = options.onError;
    this.shipped = options.shipped;
    this.maxAnswerWaitMs = options.maxAnswerWaitMs ?? ANSWER_WAIT_MS;
    this.onUnshipped = options.onUnshipped;
  }

  /** False once stop() was called: every later request is answered `unavailable`. */
  get isAccepting(): boolean {
    return this.accepting;
  }

  /** Stops taking requests (SIGTERM): the Collector retries them on another replica. */
  stop(): void {
    this.accepting = false;
  }

  logs(records: DecodedLogRecord[]): IngestResult {
    return this.take('logs', records.length, (batch, rejects) => {
      for (const r of records) {
        const reason = logRecordToEvent(r, batch);
        if (reason === undefined) continue;
        rejects.add(reason);
        if (reason === 'invalid_event') rejects.firstInvalid ??= invalidEventDetail(r.attributes);
        else if (reason === 'over_cap') rejects.firstOverCap ??= r.overCap;
      }
    });
  }

  traces(spans: DecodedSpan[]): IngestResult {
    return this.take('traces', spans.length, (batch, rejects) => {
      for (const s of spans) {
        const reason = spanToEvents(s, this.genAi, batch, rejects.unusableEvents);
        if (reason === undefined) continue;
        rejects.add(reason);
        if (reason === 'over_cap') rejects.firstOverCap ??= s.overCap;
      }
    });
  }

  private take(
    signal: Signal,
    count: number,
    convert: (b: EventBatch, r: RejectTally) => void,
  ): IngestResult {
    if (!this.accepting) {
      this.metrics.refuse(signal, 'unavailable');
      return { kind: 'unavailable', retryAfterSeconds: this.retryAfterSeconds };
    }
    try {
      const batch = newBatch();
      const rejects = new RejectTally();
      convert(batch, rejects);
      if (!this.queue.offer(batch)) {
        const bound = this.queue.lastRefusal === 'maxBytes' ? 'queue_max_bytes' : 'queue_capacity';
        this.metrics.refuse(signal, 'overloaded', bound);
        return { kind: 'overloaded', retryAfterSeconds: this.retryAfterSeconds };
      }
      this.metrics.records(signal, count, count - rejects.total);
      const settled = batch.events.length > 0 ? this.settled(signal) : undefined;
      if (rejects.total === 0) {
        // Nothing rejected, but llmsec span events dropped: said as a warning (OTLP allows an
        // error_message with rejected 0), so a sender with a broken event hears it.
        const message = rejects.unusableMessage();
        return { kind: 'accepted', rejected: 0, ...(message && { message }), ...(settled && { settled }) };
      }
      for (const [reason, n] of rejects.counts) this.metrics.reject(signal, reason, n);
      return {
        kind: 'accepted',
        rejected: rejects.total,
        message: rejects.message(signal),
        ...(settled && { settled }),
      };
    } catch (err) {
      this.onError(err);
      this.metrics.refuse(signal, 'unavailable');
      return { kind: 'unavailable', retryAfterSeconds: this.retryAfterSeconds };
    }
  }

  /**
   * The export's events (those offered so far) through the queue and shipped, or the bound,
   * whichever comes first. Never rejects: a failure is reported and the answer goes out. The
   * bound winning is counted: that export's events were not in Redis yet when it was answered.
   */
  private settled(signal: Signal): Promise<void> | undefined {
    const shipped = this.shipped;
    if (shipped === undefined) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'bound'>((resolve) => {
      timer = setTimeout(() => resolve('bound'), this.maxAnswerWaitMs);
      timer.unref();
    });
    const done = this.queue.whenProcessed().then(shipped);
    return Promise.race([done, bound])
      .then((won) => {
        if (won !== 'bound') return;
        this.metrics.answerUnshipped(signal);
        this.onUnshipped?.(signal);
      })
      .catch((err: unknown) => this.onError(err))
      .finally(() => clearTimeout(timer));
  }
}

/** Rejections of one request by reason (a handful of reasons: a Map, not per-record objects). */
class RejectTally {
  readonly counts = new Map<RejectReason, number>();
  total = 0;
  /** What was wrong with the first invalid_event record (logs), for the sender. */
  firstInvalid: string | undefined;
  /** Which cap the first over_cap record broke, for the sender. */
  firstOverCap: string | undefined;
  /** llmsec span events of taken spans that gave no event (traces). */
  readonly unusableEvents: UnusableSpanEvents = { count: 0, first: undefined };

  add(reason: RejectReason): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    this.total++;
  }

  /**
   * The partial_success error_message, e.g. `2 log records rejected: not_llmsec=1,
   * invalid_event=1 (first: missing string attribute "user.id")`, then which cap the first
   * over_cap record broke: `; over_cap first: more than maxAttributes (1024) attributes in one list`.
   */
  message(signal: Signal): string {
    const parts = [...this.counts].map(([r, n]) => `${r}=${n}`).join(', ');
    let detail = this.firstInvalid !== undefined ? ` (first: ${this.firstInvalid})` : '';
    if (this.firstOverCap !== undefined) detail += `; over_cap first: ${this.firstOverCap}`;
    const unusable = this.unusableMessage();
    const rejected = `${this.total} ${signal === 'logs' ? 'log records' : 'spans'} rejected: ${parts}${detail}`;
    return unusable === '' ? rejected : `${rejected}; ${unusable}`;
  }

  /**
   * `2 llmsec span events dropped from spans taken: invalid_event (first: missing string
   * attribute "user.id")`, or '' when none were.
   */
  unusableMessage(): string {
    const { count, first } = this.unusableEvents;
    if (count === 0) return '';
    const detail = first !== undefined ? ` (first: ${invalidEventDetail(first)})` : '';
    return `${count} llmsec span events dropped from spans taken: invalid_event${detail}`;
  }
}
