import { diag } from '@opentelemetry/api';

/**
 * The package's one error funnel. Telemetry must never break the application (DESIGN.md), so
 * every runtime failure inside the SDK ends here: logged through the OpenTelemetry diagnostic
 * logger (first occurrence of a kind, then at most once a minute per kind) and counted on
 * `llmsec.telemetry.errors{component, error_type}`. Nothing in this module can throw.
 */

/** Where failures are counted; LlmsecMetrics implements it. */
export interface TelemetryErrorCounter {
  recordTelemetryError(component: string, errorType: string): void;
}

const LOG_INTERVAL_MS = 60_000;
/** Distinct kinds remembered for throttling; past this every kind shares one slot. */
const MAX_KINDS = 200;
const MAX_LABEL_CHARS = 64;

const lastLogged = new Map<string, { at: number; suppressed: number }>();
let defaultCounter: TelemetryErrorCounter | undefined;

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

/**
 * The error's class name, never its message: messages carry ids and prompt text and are
 * unbounded, class names are a small set fixed by code.
 */
export function errorTypeOf(err: unknown): string {
  try {
    if (err instanceof Error) return clip(err.name || err.constructor.name || 'Error');
    if (err === null || err === undefined) return 'unknown';
    return typeof err;
  } catch {
    return 'unknown';
  }
}

/**
 * Reports a swallowed failure. `errorType` overrides the type derived from `err` (for
 * failures that are not exceptions, such as a full queue: `queue_full`).
 */
export function reportTelemetryError(
  component: string,
  err: unknown,
  errorType?: string,
  counter?: TelemetryErrorCounter,
): void {
  try {
    const type = errorType !== undefined ? clip(errorType) : errorTypeOf(err);
    const comp = clip(component);
    try {
      (counter ?? defaultCounter)?.recordTelemetryError(comp, type);
    } catch {
      // A broken counter must not stop the log line below.
    }
    logThrottled(`${comp}:${type}`, comp, type, err);
  } catch {
    // The funnel itself never throws.
  }
}

function logThrottled(kind: string, component: string, type: string, err: unknown): void {
  const now = Date.now();
  const key = lastLogged.has(kind) || lastLogged.size < MAX_KINDS ? kind : '*';
  const entry = lastLogged.get(key);
  if (entry !== undefined && now - entry.at < LOG_INTERVAL_MS) {
    entry.suppressed++;
    return;
  }
  const suppressed = entry?.suppressed ?? 0;
  lastLogged.set(key, { at: now, suppressed: 0 });
  const more = suppressed > 0 ? ` (${suppressed} more of this kind since the last report)` : '';
  diag.error(`llmsec: ${component} failed (${type})${more}; the application is not affected`, describe(err));
}

function describe(err: unknown): string {
  try {
    if (err instanceof Error) return clip(err.message, 500);
    return clip(String(err), 500);
  } catch {
    return 'unprintable error';
  }
}

function clip(text: string, max = MAX_LABEL_CHARS): string {
  return text.length > max ? text.slice(0, max) : text;
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
  lastLogged.clear();
  warned.clear();
}
