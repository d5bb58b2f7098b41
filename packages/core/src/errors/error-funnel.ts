import { diag, metrics, type Counter, type Meter, type MeterProvider } from '@opentelemetry/api';
import { METRIC_TELEMETRY_ERRORS } from '../metric-names.ts';
import { errorType } from './error-type.ts';

/**
 * The one error funnel of every llmsec package. Telemetry must never break the application
 * (DESIGN.md): every swallowed runtime failure ends here, is counted on
 * `llmsec.telemetry.errors{component, error_type}` (error_type from `errorType()`, never the
 * message) and logged through the OpenTelemetry diagnostic logger once per episode: the first
 * failure of a kind (component, call site, error type) after a quiet period is logged; while
 * failures of that kind keep coming, one summary line per interval says how many were not
 * logged. A Redis outage that fails every request therefore writes a line a minute, not a
 * line a request, and the counter still sees every failure. Nothing here throws.
 */

/** Where failures are counted when not on a Meter (the SDK's LlmsecMetrics bounds its labels). */
export interface TelemetryErrorCounter {
  recordTelemetryError(component: string, errorType: string): void;
}

export interface ErrorFunnelOptions {
  /**
   * Counts failures instead of the meter (a function is asked at each failure, so a counter
   * installed later is used). When it is absent or yields undefined, the meter counts.
   */
  counter?: TelemetryErrorCounter | (() => TelemetryErrorCounter | undefined);
  /** A kind failing again within this long continues its episode (one summary line per interval). @default 60000 */
  logIntervalMs?: number;
  /** Kinds tracked for throttling; past it, new kinds share one slot. @default 200 */
  maxKinds?: number;
  /** Meter name used when no meter is given (the global provider, looked up at each failure). @default '@llmsec/core' */
  meterName?: string;
  /** Milliseconds clock for the throttle. @default Date.now */
  now?: () => number;
}

interface Episode {
  lastLogged: number;
  lastSeen: number;
  suppressed: number;
}

const MAX_LABEL_CHARS = 64;
const MAX_DETAIL_CHARS = 500;
const OVERFLOW_KIND = '*';

export class ErrorFunnel {
  private readonly component: string;
  private readonly meter: Meter | undefined;
  private readonly counterOption: ErrorFunnelOptions['counter'];
  private readonly intervalMs: number;
  private readonly maxKinds: number;
  private readonly meterName: string;
  private readonly now: () => number;
  private readonly episodes = new Map<string, Episode>();
  private ownCounter: Counter | undefined;
  /** The global provider ownCounter was made on (the metrics API has no proxy provider, so a
   * counter created before the SDK registered would stay a no-op forever). */
  private counterProvider: MeterProvider | undefined;

  /** `meter` undefined: the global meter provider's, looked up when a failure happens. */
  constructor(meter: Meter | undefined, component: string, options: ErrorFunnelOptions = {}) {
    this.meter = meter;
    this.component = clip(component, MAX_LABEL_CHARS);
    this.counterOption = options.counter;
    this.intervalMs = options.logIntervalMs ?? 60_000;
    this.maxKinds = options.maxKinds ?? 200;
    this.meterName = options.meterName ?? '@llmsec/core';
    this.now = options.now ?? Date.now;
  }

  /**
   * Reports a swallowed failure at call site `where` (a fixed string, in the log line only;
   * '' when the component says enough).
   * `type` overrides the derived error type for failures that are not exceptions
   * (`queue_full`, `export_failed`).
   */
  report(where: string, err: unknown, type?: string): void {
    this.reportFor(this.component, where, err, type);
  }

  /**
   * As report(), counted under another component label: for package funnels whose call sites
   * name the component (`reportTelemetryError('jsonl', err)`). Components must come from code.
   */
  reportFor(component: string, where: string, err: unknown, type?: string): void {
    try {
      const t = type !== undefined ? clip(type, MAX_LABEL_CHARS) : errorType(err);
      const c = clip(component, MAX_LABEL_CHARS);
      this.count(c, t);
      this.log(c, where, t, err);
    } catch {
      // The funnel itself never throws.
    }
  }

  /** Forgets throttling state (tests; or after a known recovery, so the next failure logs). */
  resetThrottle(): void {
    this.episodes.clear();
  }

  private count(component: string, type: string): void {
    try {
      const option = this.counterOption;
      const target = typeof option === 'function' ? option() : option;
      if (target !== undefined) {
        target.recordTelemetryError(component, type);
        return;
      }
      this.counter().add(1, { component, error_type: type });
    } catch {
      // A broken counter must not stop the log line.
    }
  }

  private counter(): Counter {
    if (this.meter !== undefined) {
      this.ownCounter ??= createCounter(this.meter);
      return this.ownCounter;
    }
    const provider = metrics.getMeterProvider();
    if (this.ownCounter === undefined || provider !== this.counterProvider) {
      this.ownCounter = createCounter(provider.getMeter(this.meterName));
      this.counterProvider = provider;
    }
    return this.ownCounter;
  }

  private log(component: string, where: string, type: string, err: unknown): void {
    const now = this.now();
    const site = where === '' ? component : `${component}: ${where}`;
    let kind = `${component}\u0000${where}\u0000${type}`;
    if (!this.episodes.has(kind) && this.episodes.size >= this.maxKinds) {
      this.dropQuietKinds(now);
      if (this.episodes.size >= this.maxKinds) kind = OVERFLOW_KIND;
    }
    const episode = this.episodes.get(kind);
    if (episode !== undefined && now - episode.lastSeen < this.intervalMs) {
      episode.lastSeen = now;
      if (now - episode.lastLogged < this.intervalMs) {
        episode.suppressed++;
        return;
      }
      const more = episode.suppressed;
      episode.lastLogged = now;
      episode.suppressed = 0;
      diag.error(
        `llmsec ${site} still failing (${type}): ${more + 1} failures since the last report; the application is not affected`,
        describe(err),
      );
      return;
    }
    this.episodes.set(kind, { lastLogged: now, lastSeen: now, suppressed: 0 });
    diag.error(`llmsec ${site} failed (${type}); the application is not affected`, describe(err));
  }

  /** Episodes that ended (quiet for an interval) free their slot. */
  private dropQuietKinds(now: number): void {
    for (const [kind, episode] of this.episodes) {
      if (now - episode.lastSeen >= this.intervalMs) this.episodes.delete(kind);
    }
  }
}

function createCounter(meter: Meter): Counter {
  return meter.createCounter(METRIC_TELEMETRY_ERRORS, {
    description: 'Telemetry failures swallowed to protect the application',
  });
}

function describe(err: unknown): string {
  try {
    if (err instanceof Error) return clip(err.message, MAX_DETAIL_CHARS);
    return clip(String(err), MAX_DETAIL_CHARS);
  } catch {
    return 'unprintable error';
  }
}

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max) : text;
}
