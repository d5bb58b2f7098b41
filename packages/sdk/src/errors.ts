import { diag } from '@opentelemetry/api';
import { ErrorFunnel, errorType, type TelemetryErrorCounter } from '@llmsec/core/internal';

/**
 * The SDK's view of core's one error funnel. Telemetry must never break the application
 * (DESIGN.md), so every runtime failure inside the SDK ends here: counted on
 * `llmsec.telemetry.errors{component, error_type}` (through the LlmsecMetrics setupLlmsec
 * installs, else the global meter) and logged through the OpenTelemetry diagnostic logger
 * once per episode (core's ErrorFunnel). Nothing in this module can throw.
 */

export type { TelemetryErrorCounter };

let defaultCounter: TelemetryErrorCounter | undefined;
/** The counter of the report in progress when its caller named one (reports are synchronous). */
let callerCounter: TelemetryErrorCounter | undefined;

const funnel = new ErrorFunnel(undefined, 'sdk', {
  counter: () => callerCounter ?? defaultCounter,
  meterName: '@llmsec/sdk',
});

/** Sets the counter used when a report names none (setupLlmsec installs its metrics here). */
export function setTelemetryErrorCounter(counter: TelemetryErrorCounter | undefined): void {
  defaultCounter = counter;
}

/** The counter reports go to when they name none. */
export function getTelemetryErrorCounter(): TelemetryErrorCounter | undefined {
  return defaultCounter;
}

const warned = new Set<string>();
const MAX_WARNINGS = 200;

/**
 * diag.warn once per `key` (bounded): for bad input that a caller may repeat on every request,
 * where one warning says everything and a warning per call would flood the log.
 */
export function warnOnce(key: string, message: string): void {
  try {
    if (warned.has(key) || warned.size >= MAX_WARNINGS) return;
    warned.add(key);
    diag.warn(message);
  } catch {
    // Logging is best effort.
  }
}

/** core's errorType(): the error's class (constructor or name), never its message. */
export const errorTypeOf: (err: unknown) => string = errorType;

/**
 * Reports a swallowed failure. `type` overrides the type derived from `err` (for
 * failures that are not exceptions, such as a full queue: `queue_full`).
 */
export function reportTelemetryError(
  component: string,
  err: unknown,
  type?: string,
  counter?: TelemetryErrorCounter,
): void {
  callerCounter = counter;
  try {
    funnel.reportFor(component, '', err, type);
  } finally {
    callerCounter = undefined;
  }
}

/** Runs `fn`, reporting (not throwing) whatever it throws. Returns `fallback` on failure. */
export function guarded<T>(component: string, fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch (err) {
    reportTelemetryError(component, err);
    return fallback;
  }
}

/** Test hook: forget throttling state so each test sees first-occurrence logging. */
export function resetTelemetryErrorThrottle(): void {
  funnel.resetThrottle();
  warned.clear();
}
