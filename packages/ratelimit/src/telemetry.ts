import {
  metrics,
  type Attributes,
  type Counter,
  type Meter,
  type ObservableResult,
} from '@opentelemetry/api';
import {
  METRIC_ENFORCEMENT_TRANSITIONS,
  METRIC_RATELIMIT_DECISIONS,
  METRIC_RATELIMIT_ENFORCED_DROPPED,
  METRIC_RATELIMIT_STORE_ERRORS,
  type SecurityEvent,
  type SecurityEventEmitter,
  type Severity,
} from '@llmsec/core';
import { ErrorFunnel } from '@llmsec/core/internal';
import { levelName } from './enforcement.ts';

const ALLOWED_ATTRS: Attributes = Object.freeze({ dimension: 'none', outcome: 'allowed' });
const FALLBACK_ATTRS: Attributes = Object.freeze({ dimension: 'none', outcome: 'fallback' });

/**
 * The limiter's metrics and security events. Every method is safe to call on the hot path:
 * nothing here throws into the caller (an emitter that throws goes to core's error funnel).
 */
export class LimiterTelemetry {
  private readonly decisions: Counter;
  private readonly storeErrors: Counter;
  private readonly transitions: Counter;
  private readonly events: SecurityEventEmitter | undefined;
  private readonly attrCache = new Map<string, Attributes>();
  private readonly errors: ErrorFunnel;
  private readonly meter: Meter;

  constructor(meter: Meter | undefined, events: SecurityEventEmitter | undefined) {
    const m = (this.meter = meter ?? metrics.getMeter('@llmsec/ratelimit'));
    this.decisions = m.createCounter(METRIC_RATELIMIT_DECISIONS, {
      description: 'Rate-limit decisions by refusing dimension and outcome',
    });
    this.storeErrors = m.createCounter(METRIC_RATELIMIT_STORE_ERRORS, {
      description: 'Rate-limit store failures (timeouts, connection errors)',
    });
    this.transitions = m.createCounter(METRIC_ENFORCEMENT_TRANSITIONS, {
      description: 'Enforcement level transitions, by level entered',
    });
    this.events = events;
    // `meter` undefined: the funnel asks the global provider at each failure.
    this.errors = new ErrorFunnel(meter, 'ratelimit', { meterName: '@llmsec/ratelimit' });
  }

  /**
   * Reports the stores' `enforcedDropped` (MemoryStore: blocked or banned subjects lost to the
   * enforced set's cap) as llmsec.ratelimit.enforced.dropped{store}. Other stores have none.
   */
  watchStores(primary: object, fallback: object): void {
    EnforcedDroppedReporter.on(this.meter).add(primary, 'primary');
    EnforcedDroppedReporter.on(this.meter).add(fallback, 'fallback');
  }

  /**
   * A swallowed failure at call site `where` (a fixed string: `resolve_tier`, `alert_hook`):
   * counted on llmsec.telemetry.errors{component="ratelimit"} and logged once per episode.
   */
  error(where: string, err: unknown): void {
    this.errors.report(where, err);
  }

  /** An admission (the hot path: attributes built once, no key string per call). */
  admitted(degraded: boolean): void {
    this.decisions.add(1, degraded ? FALLBACK_ATTRS : ALLOWED_ATTRS);
  }

  /** dimension: a Dimension, 'estimate', 'enforcement' or 'none'; outcome: allowed|refused|fallback. */
  decision(dimension: string, outcome: string): void {
    const key = dimension + '|' + outcome;
    let attrs = this.attrCache.get(key);
    if (attrs === undefined) {
      attrs = { dimension, outcome };
      this.attrCache.set(key, attrs);
    }
    this.decisions.add(1, attrs);
  }

  storeError(type: string): void {
    this.storeErrors.add(1, { error_type: type });
  }

  /** Records a refusal; returns the event, or undefined with no `events` (or when the emitter threw). */
  rateLimitHit(
    userId: string,
    limitType: string,
    current: number,
    limit: number,
    extra: { subject_role: string; reason: string; sourceIp?: string },
  ): SecurityEvent | undefined {
    if (!this.events) return undefined;
    return this.safely(() =>
      this.events!.emit('rate_limit_hit', {
        userId,
        ...(extra.sourceIp !== undefined ? { sourceIp: extra.sourceIp } : {}),
        description: `rate limit ${limitType}: ${current} of ${limit} (${extra.subject_role} subject, ${extra.reason})`,
        metadata: {
          limit_type: limitType,
          current,
          limit,
          subject_role: extra.subject_role,
          reason: extra.reason,
        },
      }),
    );
  }

  /** A level change: counted, and emitted as `anomalous_pattern` with anomaly_type `enforcement_<level>`. */
  transition(subject: string, from: number, to: number, cause: string): void {
    const level = levelName(to);
    this.transitions.add(1, { level });
    if (!this.events) return;
    const severity: Severity = to >= 4 ? 'critical' : to === 3 ? 'alert' : to > from ? 'warning' : 'info';
    this.safely(() =>
      this.events!.emit('anomalous_pattern', {
        userId: subject,
        severity,
        description: `enforcement level ${levelName(from)} -> ${level} (${cause})`,
        metadata: { anomaly_type: `enforcement_${level}`, previous_level: levelName(from), level, cause },
      }),
    );
  }

  private safely<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      this.errors.report('events.emit', err);
      return undefined;
    }
  }
}

type StoreRole = 'primary' | 'fallback';
interface Watched {
  readonly ref: WeakRef<{ enforcedDropped: number }>;
  last: number;
}
const ROLE_ATTRS: Record<StoreRole, Attributes> = {
  primary: Object.freeze({ store: 'primary' }),
  fallback: Object.freeze({ store: 'fallback' }),
};

/**
 * One observable counter per meter summing the `enforcedDropped` of every store registered on
 * it, by role: two limiters on one meter would otherwise each report the same series and the
 * SDK keeps the last observation, not the sum. Stores are held weakly (a discarded limiter's
 * store is not kept alive by the meter) and counted once each however many limiters share them.
 */
class EnforcedDroppedReporter {
  private readonly stores: Record<StoreRole, Set<Watched>> = { primary: new Set(), fallback: new Set() };
  /** Last counts of stores since collected, so the sum stays monotonic. */
  private readonly retired: Record<StoreRole, number> = { primary: 0, fallback: 0 };
  private readonly seen: Record<StoreRole, WeakSet<object>> = {
    primary: new WeakSet(),
    fallback: new WeakSet(),
  };

  private constructor(meter: Meter) {
    meter
      .createObservableCounter(METRIC_RATELIMIT_ENFORCED_DROPPED, {
        description: 'Blocked or banned subjects a MemoryStore dropped because its enforced set was full',
      })
      .addCallback((result) => this.observe(result));
  }

  static on(meter: Meter): EnforcedDroppedReporter {
    let reporter = reporters.get(meter);
    if (reporter === undefined) reporters.set(meter, (reporter = new EnforcedDroppedReporter(meter)));
    return reporter;
  }

  add(store: object, role: StoreRole): void {
    if (typeof (store as { enforcedDropped?: unknown }).enforcedDropped !== 'number') return;
    if (this.seen[role].has(store)) return;
    this.seen[role].add(store);
    this.stores[role].add({ ref: new WeakRef(store as { enforcedDropped: number }), last: 0 });
  }

  private observe(result: ObservableResult): void {
    // A collection must not fail because of a store; observe() itself only validates numbers.
    try {
      for (const role of ['primary', 'fallback'] as const) {
        const watched = this.stores[role];
        if (watched.size === 0 && this.retired[role] === 0) continue;
        for (const w of watched) {
          const store = w.ref.deref();
          if (store !== undefined) w.last = store.enforcedDropped;
          else {
            this.retired[role] += w.last;
            watched.delete(w);
          }
        }
        let sum = this.retired[role];
        for (const w of watched) sum += w.last;
        result.observe(sum, ROLE_ATTRS[role]);
      }
    } catch {
      // Nothing to report to: the reader is collecting; the next collection tries again.
    }
  }
}

const reporters = new WeakMap<Meter, EnforcedDroppedReporter>();
