/**
 * The HTTP layer's error funnel: runtime failures (estimator, limiter, hooks, app handler) go
 * to the OpenTelemetry diagnostic logger and to the `llmsec.telemetry.errors` counter
 * (component `ratelimit.http.<where>`, `error_type` the error's class name, never its
 * message), and never into the application.
 */
import { diag, metrics } from '@opentelemetry/api';
import { METRIC_TELEMETRY_ERRORS } from '@llmsec/core';

/** `where` is one of a fixed set of call sites, so the component label stays bounded. */
export function reportError(where: string, err: unknown): void {
  try {
    diag.error(`llmsec ratelimit http: ${where} failed`, err);
    // Looked up per error (errors are rare): the metrics API has no proxy provider, so a
    // counter cached before the SDK registered would stay a no-op forever.
    const counter = metrics.getMeter('@llmsec/ratelimit').createCounter(METRIC_TELEMETRY_ERRORS, {
      description: 'Failures swallowed to protect the application',
    });
    const errorType = err instanceof Error ? err.constructor.name || 'Error' : typeof err;
    counter.add(1, { component: `ratelimit.http.${where}`, error_type: errorType });
  } catch {
    // The funnel itself must not throw.
  }
}
