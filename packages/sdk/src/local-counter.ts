import type { Attributes, Meter, MetricOptions, ObservableResult } from '@opentelemetry/api';

/**
 * A monotonic sum kept in process and reported through an ObservableCounter (issue 13).
 *
 * Why not a Counter: the metrics SDK hashes the attribute set of every `add()` (sorted keys,
 * JSON.stringify) to find its series, so each of the three llmsec counters recorded per LLM
 * call paid a string build and a map lookup by string. Here a record is an identity lookup
 * (the callers pass the same frozen set objects, attribute-cache.ts) and an addition; the SDK
 * reads the sums once per collection. What is exported is the same: a monotonic cumulative Sum
 * per attribute set (the SDK turns it into deltas for a delta reader); sdk-metrics 3.x keeps
 * no exemplars, so nothing is lost by not recording synchronously.
 *
 * Two LlmsecMetrics on one Meter (a setup's and an instrumentation's) would register the same
 * instrument twice, and the SDK keeps the last observation of a series in a collection, not the
 * sum: so the sums are shared per (meter, name) and reported by one callback.
 * Bounded: series past `MAX_SERIES` go to one set `{otel.metric.overflow: true}`, as the SDK
 * does for synchronous instruments; with it, 2,000 series: the SDK's default cardinality limit.
 */
interface Cell {
  readonly attributes: Attributes;
  value: number;
}

const MAX_SERIES = 1999;
const OVERFLOW: Attributes = Object.freeze({ 'otel.metric.overflow': true });

export class LocalCounter {
  /** Attribute set object -> its series; weak, so a set built for one call is not kept. */
  private readonly byObject = new WeakMap<Attributes, Cell>();
  /** Canonical key (entries as JSON) -> series: what the callback reports. */
  private readonly series = new Map<string, Cell>();

  private constructor(meter: Meter, name: string, options: MetricOptions) {
    const observable = meter.createObservableCounter(name, options);
    observable.addCallback((result) => this.observe(result));
  }

  /** The counter named `name` on `meter`, created on first use and shared afterwards. */
  static on(meter: Meter, name: string, options: MetricOptions): LocalCounter {
    let byName = shared.get(meter);
    if (byName === undefined) shared.set(meter, (byName = new Map()));
    let counter = byName.get(name);
    if (counter === undefined) byName.set(name, (counter = new LocalCounter(meter, name, options)));
    return counter;
  }

  /**
   * The last set added to and its series: a call's records and a burst of events repeat one set
   * (the callers' cached frozen objects), and an identity comparison costs less than a WeakMap
   * lookup. A series is never removed, so the pair stays right.
   */
  private lastAttributes: Attributes | undefined;
  private lastCell: Cell | undefined;

  /** Adds `value` (finite, >= 0: checked by the caller) to the series of `attributes`. */
  add(value: number, attributes: Attributes): void {
    let cell = this.lastCell;
    if (attributes !== this.lastAttributes || cell === undefined) {
      cell = this.byObject.get(attributes) ?? this.cellFor(attributes);
      this.lastAttributes = attributes;
      this.lastCell = cell;
    }
    cell.value += value;
  }

  private cellFor(attributes: Attributes): Cell {
    // Sorted: the same set built with its keys in another order is the same series.
    const key = JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    let cell = this.series.get(key);
    if (cell === undefined) {
      if (this.series.size >= MAX_SERIES) return this.overflow();
      cell = {
        attributes: Object.isFrozen(attributes) ? attributes : Object.freeze({ ...attributes }),
        value: 0,
      };
      this.series.set(key, cell);
    }
    this.byObject.set(attributes, cell);
    return cell;
  }

  private overflow(): Cell {
    const key = '\u0000overflow';
    let cell = this.series.get(key);
    if (cell === undefined) this.series.set(key, (cell = { attributes: OVERFLOW, value: 0 }));
    return cell;
  }

  private observe(result: ObservableResult): void {
    // A collection must not fail because of us; observe() itself only validates numbers.
    try {
      for (const cell of this.series.values())
        if (cell.value > 0) result.observe(cell.value, cell.attributes);
    } catch {
      // Nothing to report to: the reader is collecting; the next collection tries again.
    }
  }
}

const shared = new WeakMap<Meter, Map<string, LocalCounter>>();
