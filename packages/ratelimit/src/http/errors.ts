/**
 * The HTTP layer's error funnel: runtime failures (estimator, limiter, hooks) go to the
 * OpenTelemetry diagnostic logger, labelled by where they happened, and never into the app.
 */
import { diag } from '@opentelemetry/api';

export function reportError(where: string, err: unknown): void {
  try {
    diag.error(`llmsec ratelimit http: ${where} failed`, err);
  } catch {
    // The funnel itself must not throw.
  }
}
