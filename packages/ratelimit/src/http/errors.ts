/**
 * The HTTP layer's view of core's one error funnel: runtime failures (estimator, limiter,
 * hooks, app handler) are counted on `llmsec.telemetry.errors` (component
 * `ratelimit.http.<where>`, `error_type` from core's errorType(), never the message), logged
 * to the OpenTelemetry diagnostic logger once per episode, and never reach the application.
 */
import { ErrorFunnel } from '@llmsec/core/internal';

// No meter: the funnel asks the global provider at each failure (the metrics API has no proxy
// provider, so a counter cached before the SDK registered would stay a no-op forever).
const funnel = new ErrorFunnel(undefined, 'ratelimit.http', { meterName: '@llmsec/ratelimit' });

/** `where` is one of a fixed set of call sites, so the component label stays bounded. */
export function reportError(where: string, err: unknown): void {
  funnel.reportFor(`ratelimit.http.${where}`, '', err);
}
