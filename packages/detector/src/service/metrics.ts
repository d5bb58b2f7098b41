import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, type MetricReader } from '@opentelemetry/sdk-metrics';
import { MetricsPage } from './metrics-page.ts';
import { REJECT_REASONS, type RejectReason } from './record-events.ts';

/** Instrument names; Prometheus names derive (dots → underscores, counters gain `_total`). */
export const METRIC_RECORDS_RECEIVED = 'llmsec.detector.records.received';
export const METRIC_RECORDS_ACCEPTED = 'llmsec.detector.records.accepted';
export const METRIC_RECORDS_REJECTED = 'llmsec.detector.records.rejected';
export const METRIC_REQUESTS_REFUSED = 'llmsec.detector.requests.refused';
export const METRIC_QUEUE_DEPTH = 'llmsec.detector.queue.depth';
export const METRIC_QUEUE_BYTES = 'llmsec.detector.queue.bytes';
export const METRIC_CONNECTIONS_REFUSED = 'llmsec.detector.connections.refused';
export const METRIC_EVENT_LAG = 'llmsec.detector.event.lag';
export const METRIC_ENFORCEMENT_ACTIONS = 'llmsec.detector.enforcement.actions';
export const METRIC_STATE_HEALTHY = 'llmsec.detector.state.healthy';
export const METRIC_EXPORT_REQUESTS = 'llmsec.detector.export.requests';
export const METRIC_VALUES_DROPPED = 'llmsec.detector.values.dropped';
export const METRIC_ANSWERS_UNSHIPPED = 'llmsec.detector.answers.unshipped';

/** Event lag buckets (seconds): from the allowed lateness (seconds) to a backlog of an hour. */
const LAG_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export type Signal = 'logs' | 'traces';
/**
 * Why an export request was refused whole: `overloaded` (the ingest queue at a bound),
 * `unavailable` (draining, or ingest failed), and before the ingest, on HTTP only:
 * `max_inflight_bytes` (429: the bodies in flight at otlp.max_inflight_bytes) and
 * `body_timeout` (408: the body not received within otlp.body_timeout).
 */
export type RefuseReason = 'overloaded' | 'unavailable' | 'max_inflight_bytes' | 'body_timeout';
/** The setting the ingest queue's refusal met (the label says which one to raise). */
export type QueueBound = 'queue_capacity' | 'queue_max_bytes';
/**
 * Why a connection was closed without being served. gRPC: `max_grpc_connections` (that many
 * were open: closed on arrival) or `silent` (it sent nothing within 10 s). HTTP: `headers_timeout`
 * (no whole request head within 10 s, a silent connection too) or `malformed` (not HTTP).
 */
export type ConnectionRefuseReason = 'max_grpc_connections' | 'silent' | 'headers_timeout' | 'malformed';
const CONNECTION_REASONS = {
  grpc: ['max_grpc_connections', 'silent'],
  http: ['headers_timeout', 'malformed'],
} as const;
/** `retried`: an attempt failed and the action waits for another; `failed`: given up. */
export type EnforcementOutcome = 'applied' | 'retried' | 'failed' | 'dropped';

export interface DetectorMetricsOptions {
  /** Sampled: the queue depth. */
  queueDepth: () => number;
  /**
   * Sampled: the bytes the queued events hold (estimated from above, as queue_max_bytes counts
   * them). Without it the gauge is not served.
   */
  queueBytes?: () => number;
  /** Sampled: 1 when the state store answers, 0 when not; `store` is memory or redis. */
  stateHealthy: () => { store: string; healthy: boolean };
  /** service.name of target_info. @default 'llmsec-detector' */
  serviceName?: string;
}

/**
 * The detector's own metrics on a MeterProvider of its own, served as Prometheus text on the
 * service's HTTP port (`/metrics`): the exporter's request handler is mounted beside the OTLP
 * routes, no second server. The engine and sinks get `meter` too, so `llmsec_alerts_total`
 * and the sinks' notification counters appear on the same page. Labels are bounded sets
 * (signal, reason, action, outcome), never a user.
 */
export class DetectorMetrics {
  readonly meter: Meter;
  readonly provider: MeterProvider;
  private readonly exporter: PrometheusExporter;
  /** The /metrics page, rendered single-flight and shared for the rest of the loop turn. */
  readonly page: MetricsPage;
  private readonly received: Counter;
  private readonly accepted: Counter;
  private readonly rejected: Counter;
  private readonly refused: Counter;
  private readonly lag: Histogram;
  private readonly actions: Counter;
  private readonly exports: Counter;
  private readonly dropped: Counter;
  private readonly unshipped: Counter;
  private readonly connectionsRefused: Counter;
  private readonly attrs: Record<Signal, Attributes> = {
    logs: { signal: 'logs' },
    traces: { signal: 'traces' },
  };
  /** Label sets by key (a bounded handful: signals × reasons), made once. */
  private readonly attrCache = new Map<string, Attributes>();

  constructor(options: DetectorMetricsOptions) {
    this.exporter = new PrometheusExporter({ preventServerStart: true });
    this.page = new MetricsPage(this.exporter);
    // exporter-prometheus pins its own sdk-metrics copy: the same class, nominally distinct.
    this.provider = new MeterProvider({
      resource: resourceFromAttributes({ 'service.name': options.serviceName ?? 'llmsec-detector' }),
      readers: [this.exporter as unknown as MetricReader],
    });
    const m = (this.meter = this.provider.getMeter('@llmsec/detector'));
    this.received = m.createCounter(METRIC_RECORDS_RECEIVED, {
      description: 'Log records and spans received in export requests that were taken',
    });
    this.accepted = m.createCounter(METRIC_RECORDS_ACCEPTED, {
      description: 'Records that gave security events',
    });
    this.rejected = m.createCounter(METRIC_RECORDS_REJECTED, {
      description: 'Records not usable as security events, by reason (OTLP partial success)',
    });
    this.refused = m.createCounter(METRIC_REQUESTS_REFUSED, {
      description:
        'Export requests refused whole: overloaded (ingest queue full; bound: queue_capacity or queue_max_bytes), unavailable (draining), max_inflight_bytes (HTTP 429), body_timeout (HTTP 408); senders retry all but 408',
    });
    this.connectionsRefused = m.createCounter(METRIC_CONNECTIONS_REFUSED, {
      description:
        'Connections closed unserved: gRPC max_grpc_connections (that many open, closed on arrival; the sender retries) or silent (nothing sent within 10 s); HTTP headers_timeout (no whole request head within 10 s) or malformed (not HTTP)',
    });
    this.lag = m.createHistogram(METRIC_EVENT_LAG, {
      unit: 's',
      description: 'Processing time minus event time, sampled as events reach the engine',
      advice: { explicitBucketBoundaries: LAG_BUCKETS },
    });
    this.actions = m.createCounter(METRIC_ENFORCEMENT_ACTIONS, {
      description: 'Enforcement actions written to the rate limiter state, by action and outcome',
    });
    this.exports = m.createCounter(METRIC_EXPORT_REQUESTS, {
      description:
        'OTLP export requests by transport, signal and outcome (accepted, overloaded, invalid, too_large, ...)',
    });
    this.dropped = m.createCounter(METRIC_VALUES_DROPPED, {
      description:
        'Parts of records taken that were dropped or cut: attribute values over otlp.limits.max_string_bytes or max_depth (decoded as null), event fields cut to the field caps, unusable llmsec span events of a span taken',
    });
    this.unshipped = m.createCounter(METRIC_ANSWERS_UNSHIPPED, {
      description:
        'Exports answered at the 2 s bound before their events were shipped to the Redis state (no fleet order for them)',
    });
    m.createObservableGauge(METRIC_QUEUE_DEPTH, { description: 'Events waiting for the engine' }).addCallback(
      (r) => r.observe(options.queueDepth()),
    );
    const queueBytes = options.queueBytes;
    if (queueBytes !== undefined)
      m.createObservableGauge(METRIC_QUEUE_BYTES, {
        unit: 'By',
        description:
          'Bytes the events waiting for the engine hold, estimated from above (what queue_max_bytes bounds)',
      }).addCallback((r) => r.observe(queueBytes()));
    m.createObservableGauge(METRIC_STATE_HEALTHY, {
      description: 'Detection state store reachable (1) or not (0)',
    }).addCallback((r) => {
      const s = options.stateHealthy();
      r.observe(s.healthy ? 1 : 0, { store: s.store });
    });
    // Series start at 0, so increase() sees the first rejection and panels read 0, not no data.
    for (const signal of ['logs', 'traces'] as const) {
      this.received.add(0, this.attrs[signal]);
      this.accepted.add(0, this.attrs[signal]);
      this.dropped.add(0, this.attrs[signal]);
      this.unshipped.add(0, this.attrs[signal]);
      for (const reason of REJECT_REASONS[signal]) this.rejected.add(0, this.rejectAttr(signal, reason));
      for (const bound of ['queue_capacity', 'queue_max_bytes'] as const)
        this.refused.add(0, this.refuseAttr(signal, 'overloaded', bound));
      for (const reason of ['unavailable', 'max_inflight_bytes', 'body_timeout'] as const)
        this.refused.add(0, this.refuseAttr(signal, reason));
    }
    for (const transport of ['grpc', 'http'] as const)
      for (const reason of CONNECTION_REASONS[transport])
        this.connectionsRefused.add(0, this.connectionAttr(transport, reason));
  }

  records(signal: Signal, received: number, accepted: number): void {
    this.received.add(received, this.attrs[signal]);
    this.accepted.add(accepted, this.attrs[signal]);
  }

  reject(signal: Signal, reason: RejectReason, n: number): void {
    this.rejected.add(n, this.rejectAttr(signal, reason));
  }

  /** An export refused whole; `bound` with `overloaded` (the queue setting it met). */
  refuse(signal: Signal, reason: RefuseReason, bound?: QueueBound): void {
    this.refused.add(1, this.refuseAttr(signal, reason, bound));
  }

  /** A connection closed unserved. */
  connectionRefused(transport: 'grpc' | 'http', reason: ConnectionRefuseReason): void {
    this.connectionsRefused.add(1, this.connectionAttr(transport, reason));
  }

  /** One export request's outcome, as the receivers report it. */
  exportRequest(transport: string, signal: Signal, outcome: string): void {
    this.exports.add(1, { transport, signal, outcome });
  }

  /** Attribute values a taken request lost to max_string_bytes. */
  droppedValues(signal: Signal, n: number): void {
    if (n > 0) this.dropped.add(n, this.attrs[signal]);
  }

  /** An export answered at the bound, its events not yet in Redis. */
  answerUnshipped(signal: Signal): void {
    this.unshipped.add(1, this.attrs[signal]);
  }

  eventLag(seconds: number): void {
    this.lag.record(seconds);
  }

  enforcement(action: string, outcome: EnforcementOutcome): void {
    this.actions.add(1, { action, outcome });
  }

  /**
   * `GET /metrics` (HEAD: the headers only). Scrapes that arrive while a page is being rendered
   * share it (MetricsPage), so the cost of a burst of scrapes does not grow with their number.
   * Never throws.
   */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const send = (status: number, body: string): void => {
      if (res.destroyed || res.writableEnded) return;
      res
        .writeHead(status, {
          'content-type': 'text/plain; version=0.0.4; charset=utf-8',
          'cache-control': 'no-store',
        })
        .end(req.method === 'HEAD' ? undefined : body);
    };
    try {
      this.page.render().then(
        (text) => send(200, text),
        (err: unknown) => send(500, `# failed to export metrics: ${String(err)}\n`),
      );
    } catch {
      send(500, '');
    }
  }

  shutdown(): Promise<void> {
    return this.provider.shutdown().catch(() => undefined);
  }

  private refuseAttr(signal: Signal, reason: RefuseReason, bound?: QueueBound): Attributes {
    return this.cachedAttr(`refuse/${signal}/${reason}/${bound ?? ''}`, () =>
      bound === undefined ? { signal, reason } : { signal, reason, bound },
    );
  }

  private connectionAttr(transport: 'grpc' | 'http', reason: ConnectionRefuseReason): Attributes {
    return this.cachedAttr(`connection/${transport}/${reason}`, () => ({ transport, reason }));
  }

  /** One attributes object per label set (a handful), not one per increment. */
  private cachedAttr(key: string, make: () => Attributes): Attributes {
    let a = this.attrCache.get(key);
    if (a === undefined) this.attrCache.set(key, (a = make()));
    return a;
  }

  private rejectAttr(signal: Signal, reason: string): Attributes {
    return this.cachedAttr(`reject/${signal}/${reason}`, () => ({ signal, reason }));
  }
}
