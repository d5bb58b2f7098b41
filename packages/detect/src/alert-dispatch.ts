import type { Attributes, Counter, Meter } from '@opentelemetry/api';
import { METRIC_ALERTS, type Alert } from '@llmsec/core';
import type { ErrorFunnel } from './errors.ts';
import type { AlertSink } from './sinks/types.ts';

/**
 * Where the engine's alerts go: the `llmsec.alerts` counter, the `onAlert` listener and the
 * sinks, each guarded so that one failing does not stop the others or reach the caller.
 */
export class AlertDispatch {
  private readonly counter: Counter;
  private readonly onAlert: ((alert: Alert) => void) | undefined;
  private readonly onUpdate: ((alert: Alert) => void) | undefined;
  private readonly sinks: AlertSink[];
  private readonly errors: ErrorFunnel;
  /** Metric attributes per (rule, status), built once: alerts are rare, but not free. */
  private readonly attrs = new Map<string, Attributes>();

  constructor(options: {
    meter: Meter;
    errors: ErrorFunnel;
    onAlert: ((alert: Alert) => void) | undefined;
    onUpdate?: ((alert: Alert) => void) | undefined;
    sinks: AlertSink[];
  }) {
    this.counter = options.meter.createCounter(METRIC_ALERTS, {
      description: 'Alerts by rule, severity and status',
    });
    this.onAlert = options.onAlert;
    this.onUpdate = options.onUpdate;
    this.sinks = options.sinks;
    this.errors = options.errors;
  }

  deliver(alert: Alert): void {
    try {
      this.counter.add(1, this.attrsFor(alert));
    } catch (err) {
      this.errors.report('alert metric', err);
    }
    if (this.onAlert !== undefined) {
      try {
        this.onAlert(alert);
      } catch (err) {
        this.errors.report('onAlert', err);
      }
    }
    for (const sink of this.sinks) {
      try {
        sink.send(alert);
      } catch (err) {
        this.errors.report(`sink ${sink.name}`, err);
      }
    }
  }

  /** An open incident gained users: sinks that re-send firing alerts refresh their copy. */
  update(alert: Alert): void {
    if (this.onUpdate !== undefined) {
      try {
        this.onUpdate(alert);
      } catch (err) {
        this.errors.report('onUpdate', err);
      }
    }
    for (const sink of this.sinks) {
      if (sink.update === undefined) continue;
      try {
        sink.update(alert);
      } catch (err) {
        this.errors.report(`sink ${sink.name}`, err);
      }
    }
  }

  async forceFlush(): Promise<void> {
    await Promise.all(
      this.sinks.map((s) => s.forceFlush().catch((err: unknown) => this.errors.report('sink flush', err))),
    );
  }

  async shutdown(): Promise<void> {
    await Promise.all(
      this.sinks.map((s) => s.shutdown().catch((err: unknown) => this.errors.report('sink shutdown', err))),
    );
  }

  /**
   * Creates the `llmsec.alerts` series of a rule at 0, so dashboards read 0 rather than "no
   * data" and Prometheus's increase() sees a rule's first alert (a series born at 1 has no
   * earlier sample to rise from).
   */
  startAtZero(rule: string, severity: Alert['severity']): void {
    for (const status of ['firing', 'resolved'] as const) {
      this.counter.add(0, this.attrsFor({ rule, severity, status }));
    }
  }

  private attrsFor(alert: Pick<Alert, 'rule' | 'severity' | 'status'>): Attributes {
    const k = `${alert.rule}\u0000${alert.status}`;
    let attrs = this.attrs.get(k);
    if (attrs === undefined) {
      attrs = { rule: alert.rule, severity: alert.severity, status: alert.status };
      this.attrs.set(k, attrs);
    }
    return attrs;
  }
}
