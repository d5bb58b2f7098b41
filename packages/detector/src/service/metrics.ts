import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, type MetricReader } from '@opentelemetry/sdk-metrics';
import { REJECT_REASONS, type RejectReason } from './record-events.ts';

/** Instrument names; Prometheus names derive (dots → underscores, counters gain `_total`). */
export const METRIC_RECORDS_RECEIVED = 'llmsec.detector.records.received';
export const METRIC_RECORDS_ACCEPTED = 'llmsec.detector.records.accepted';
export const METRIC_RECORDS_REJECTED = 'llmsec.detector.records.rejected';
export const METRIC_REQUESTS_REFUSED = 'llmsec.detector.requests.refused';
export const METRIC_QUEUE_DEPTH = 'llmsec.detector.queue.depth';
export const METRIC_EVENT_LAG = 'llmsec.detector.event.lag';
export const METRIC_ENFORCEMENT_ACTIONS = 'llmsec.detector.enforcement.actions';
export const METRIC_STATE_HEALTHY = 'llmsec.detector.state.healthy';
export const METRIC_EXPORT_REQUESTS = 'llmsec.detector.export.requests';
export const METRIC_VALUES_DROPPED = 'llmsec.detector.values.dropped';
export const METRIC_ANSWERS_UNSHIPPED = 'llmsec.detector.answers.unshipped';

/** Event lag buckets (seconds): from the allowed lateness (seconds) to a backlog of an hour. */
const LAG_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export type Signal = 'logs' | 'traces';
export type EnforcementOutcome = 'applied' | 'failed' | 'dropped';

export interface DetectorMetricsOptions {
  /** Sampled: the queue depth. */
  queueDepth: () => number;
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
  private readonly received: Counter;
  private readonly accepted: Counter;
  private readonly rejected: Counter;
  private readonly refused: Counter;
  private readonly lag: Histogram;
  private readonly actions: Counter;
  private readonly exports: Counter;
  private readonly dropped: Counter;
  private readonly unshipped: Counter;
  private readonly attrs: Record<Signal, Attributes> = {
    logs: { signal: 'logs' },
    traces: { signal: 'traces' },
  };
  private readonly rejectAttrs = new Map<string, Attributes>();

  constructor(options: DetectorMetricsOptions) {
    this.exporter = new PrometheusExporter({ preventServerStart: true });
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
        'Export requests refused whole (overloaded: queue full; unavailable: draining); senders retry',
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
      for (const reason of ['overloaded', 'unavailable']) this.refused.add(0, { signal, reason });
    }
  }

  records(signal: Signal, received: number, accepted: number): void {
    this.received.add(received, this.attrs[signal]);
    this.accepted.add(accepted, this.attrs[signal]);
  }

  reject(signal: Signal, reason: RejectReason, n: number): void {
    this.rejected.add(n, this.rejectAttr(signal, reason));
  }

  refuse(signal: Signal, reason: 'overloaded' | 'unavailable'): void {
    this.refused.add(1, { signal, reason });
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

  /** `GET /metrics`. Never throws. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    try {
      this.exporter.getMetricsRequestHandler(req, res);
    } catch {
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    }
  }

  shutdown(): Promise<void> {
    return this.provider.shutdown().catch(() => undefined);
  }

  private rejectAttr(signal: Signal, reason: string): Attributes {
    const key = `${signal}/${reason}`;
    let a = this.rejectAttrs.get(key);
    if (a === undefined) this.rejectAttrs.set(key, (a = { signal, reason }));
    return a;
  }
}
