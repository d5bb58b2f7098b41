import { diag, type Counter, type Meter } from '@opentelemetry/api';
import { METRIC_TELEMETRY_ERRORS } from '@llmsec/core';

/**
 * The package's one error funnel. Runtime code never throws into the application (Span.end()
 * calls processors without a try/catch): failures are counted by class name, never by
 * message, and logged to the OTel diagnostic logger once per error type.
 */
export class ErrorFunnel {
  private readonly counter: Counter;
  private readonly seen = new Set<string>();
  private readonly component: string;

  constructor(meter: Meter, component: string) {
    this.counter = meter.createCounter(METRIC_TELEMETRY_ERRORS, {
      description: 'Telemetry failures swallowed to protect the application',
    });
    this.component = component;
  }

  report(where: string, err: unknown): void {
    try {
      const type = err instanceof Error ? err.name : typeof err;
      this.counter.add(1, { component: this.component, error_type: type });
      const key = `${where}:${type}`;
      if (!this.seen.has(key) && this.seen.size < 100) {
        this.seen.add(key);
        diag.error(`llmsec ${this.component}: ${where} failed`, err);
      }
    } catch {
      // The funnel itself must not throw.
    }
  }
}
