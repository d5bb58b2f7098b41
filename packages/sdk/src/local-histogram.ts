import { ValueType, type Attributes, type HrTime, type MetricAdvice } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  InstrumentType,
  type Histogram as HistogramValue,
  type HistogramMetricData,
  type MetricDescriptor,
} from '@opentelemetry/sdk-metrics';

/**
 * An explicit-bucket histogram aggregated by llmsec itself and read at collection by one
 * MetricProducer per reader (local-histograms.ts), instead of the SDK's `Histogram.record`
 * (issue 13).
 *
 * Why: sdk-metrics 3.x hashes the attribute set of every record, once per reader (sorted keys,
 * then JSON.stringify; V8's sort allocates ~0.8 KB even for two keys), with no cache by object
 * identity. llmsec passes the same frozen set objects on every call (attribute-cache.ts), so
 * here a record is one WeakMap lookup, one bucket search and a few additions per reader.
 *
 * What is exported is what the SDK exports for a synchronous histogram with the default
 * aggregation and no View. This file replays sdk-metrics 3.1's algorithm, read in
 * node_modules/@opentelemetry/sdk-metrics/dist: each reader has its own storage
 * (MeterSharedState registers one per collector when no View matches); a record goes into an
 * accumulation of the current interval, created with the record's `Date.now()` as start time
 * (DeltaMetricProcessor, HistogramAccumulation.record: count, sum, min, max, bucket by
 * binarySearchUB); past `cardinalityLimit - 1` series in an interval, new series go to
 * `{otel.metric.overflow: true}`; a collection takes the interval's accumulations and, for a
 * cumulative reader, merges them into the previous result (HistogramAggregator.merge: sums
 * added interval by interval, so the floating-point sums are the same), for a delta reader
 * sets the start time of the series it reported last time to that collection's time
 * (TemporalMetricProcessor.calibrateStartTime). Data points come in the SDK's order.
 * `test/local-histogram.test.ts` holds it to the SDK on random call mixes and collections.
 */

interface Accumulation {
  startTime: HrTime;
  readonly counts: number[];
  sum: number;
  count: number;
  hasMinMax: boolean;
  min: number;
  max: number;
}

interface Series {
  readonly attributes: Attributes;
  /** This interval's accumulation, per reader slot. */
  readonly active: (Accumulation | undefined)[];
}

/** One reader's view: its interval and what it reported last (TemporalMetricProcessor's history). */
interface Slot {
  /** Series with an accumulation in this interval, in the order of their first record. */
  active: Series[];
  /** Cardinality limit - 1, read from the reader on first use, as the SDK does at instrument creation. */
  limit: number | undefined;
  last:
    | { result: Map<Series, Accumulation>; collectionTime: HrTime; temporality: AggregationTemporality }
    | undefined;
}

/** How a slot's reader is asked for its choices (a MetricReader's public selectors). */
export interface SlotReader {
  selectAggregationTemporality(type: InstrumentType): AggregationTemporality;
  selectCardinalityLimit(type: InstrumentType): number;
}

const OVERFLOW: Attributes = Object.freeze({ 'otel.metric.overflow': true });
/** Without advised boundaries the SDK's default aggregation uses these (HistogramAggregation). */
const DEFAULT_BOUNDARIES: readonly number[] = [
  0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000,
];
/**
 * Distinct attribute sets kept per histogram; later sets go to the overflow series. The SDK
 * caps each interval (2,000 series by default) but not its cumulative state; llmsec's label
 * caps keep its sets far below this, so it only bounds memory against misuse.
 */
const MAX_SERIES = 10_000;

export class LocalHistogram {
  /** As the SDK's InstrumentDescriptor (it exports type and advice too, beyond MetricDescriptor). */
  readonly descriptor: MetricDescriptor & { readonly type: InstrumentType; readonly advice: MetricAdvice };
  private readonly boundaries: number[];
  private readonly byObject = new WeakMap<Attributes, Series>();
  /** SDK hash (hashAttributes) -> series, for sets that are equal but not the same object. */
  private readonly byHash = new Map<string, Series>();
  private readonly overflow: Series = { attributes: OVERFLOW, active: [] };
  private readonly slots: Slot[] = [];
  private readonly readers: SlotReader[] = [];

  constructor(name: string, options: { description?: string; unit?: string; advice: MetricAdvice }) {
    this.descriptor = {
      name,
      type: InstrumentType.HISTOGRAM,
      description: options.description ?? '',
      unit: options.unit ?? '',
      valueType: ValueType.DOUBLE,
      advice: options.advice,
    };
    this.boundaries = normaliseBoundaries(options.advice.explicitBucketBoundaries ?? DEFAULT_BOUNDARIES);
  }

  /** Adds a reader; its index is the `slot` of collect(). Readers are added before the first record. */
  addReader(reader: SlotReader): number {
    this.readers.push(reader);
    this.slots.push({ active: [], limit: undefined, last: undefined });
    return this.slots.length - 1;
  }

  /**
   * `value`: finite and >= 0 (-0 included), checked by the caller (LlmsecMetrics' isCount, as
   * before). The SDK differs on others: it drops negatives with a warning, opens a series with
   * count 0 for NaN, and records +Infinity (sum Infinity, the last bucket).
   */
  record(value: number, attributes: Attributes): void {
    const series = this.byObject.get(attributes) ?? this.seriesFor(attributes);
    const bucket = binarySearchUB(this.boundaries, value);
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) {
      const acc = series.active[i] ?? this.open(series, i);
      acc.count += 1;
      acc.sum += value;
      acc.min = Math.min(value, acc.min);
      acc.max = Math.max(value, acc.max);
      acc.hasMinMax = true;
      (acc.counts[bucket] as number) += 1;
    }
  }

  /** The reader of `slot` collects at `collectionTime`: its MetricData, or undefined when it has no series. */
  collect(slot: number, collectionTime: HrTime): HistogramMetricData | undefined {
    const state = this.slots[slot] as Slot;
    const delta = new Map<Series, Accumulation>();
    for (const series of state.active) {
      delta.set(series, series.active[slot] as Accumulation);
      series.active[slot] = undefined;
    }
    state.active = [];
    let result = delta;
    let temporality: AggregationTemporality;
    const last = state.last;
    if (last === undefined) {
      temporality = (this.readers[slot] as SlotReader).selectAggregationTemporality(InstrumentType.HISTOGRAM);
    } else if ((temporality = last.temporality) === AggregationTemporality.CUMULATIVE) {
      result = last.result;
      for (const [series, acc] of delta) {
        const previous = result.get(series);
        result.set(series, previous === undefined ? acc : merge(previous, acc));
      }
    } else {
      for (const series of last.result.keys()) {
        const acc = delta.get(series);
        if (acc !== undefined) acc.startTime = last.collectionTime;
      }
    }
    state.last = { result, collectionTime, temporality };
    if (result.size === 0) return undefined;
    const dataPoints = [];
    for (const [series, acc] of result) {
      const value: HistogramValue = {
        min: acc.hasMinMax ? acc.min : undefined,
        max: acc.hasMinMax ? acc.max : undefined,
        sum: acc.sum,
        buckets: { boundaries: this.boundaries, counts: acc.counts },
        count: acc.count,
      };
      dataPoints.push({
        attributes: series.attributes,
        startTime: acc.startTime,
        endTime: collectionTime,
        value,
      });
    }
    return {
      descriptor: this.descriptor,
      aggregationTemporality: temporality,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints,
    };
  }

  /** A series' first record in this interval for `slot` (or the overflow series' past the limit). */
  private open(series: Series, slot: number): Accumulation {
    const state = this.slots[slot] as Slot;
    state.limit ??= (this.readers[slot] as SlotReader).selectCardinalityLimit(InstrumentType.HISTOGRAM) - 1;
    const startTime = millisToHrTime(Date.now());
    if (state.active.length >= state.limit) {
      series = this.overflow;
      const existing = series.active[slot];
      if (existing !== undefined) return existing;
    }
    const acc: Accumulation = {
      startTime,
      counts: new Array<number>(this.boundaries.length + 1).fill(0),
      sum: 0,
      count: 0,
      hasMinMax: false,
      min: Infinity,
      max: -Infinity,
    };
    series.active[slot] = acc;
    state.active.push(series);
    return acc;
  }

  private seriesFor(attributes: Attributes): Series {
    const hash = hashAttributes(attributes);
    let series = this.byHash.get(hash);
    if (series === undefined) {
      if (this.byHash.size >= MAX_SERIES) return this.overflow;
      series = { attributes, active: [] };
      this.byHash.set(hash, series);
    }
    this.byObject.set(attributes, series);
    return series;
  }
}

/** HistogramAggregator.merge with min/max recorded: a new accumulation, the inputs untouched. */
function merge(previous: Accumulation, delta: Accumulation): Accumulation {
  const counts = new Array<number>(previous.counts.length);
  for (let i = 0; i < counts.length; i++)
    counts[i] = (previous.counts[i] as number) + (delta.counts[i] as number);
  let min = Infinity;
  let max = -Infinity;
  if (previous.hasMinMax && delta.hasMinMax) {
    min = Math.min(previous.min, delta.min);
    max = Math.max(previous.max, delta.max);
  } else if (previous.hasMinMax) {
    min = previous.min;
    max = previous.max;
  } else if (delta.hasMinMax) {
    min = delta.min;
    max = delta.max;
  }
  return {
    startTime: previous.startTime,
    counts,
    count: previous.count + delta.count,
    sum: previous.sum + delta.sum,
    hasMinMax: previous.hasMinMax || delta.hasMinMax,
    min,
    max,
  };
}

/** sdk-metrics' hashAttributes: the key under which the SDK keeps a series. */
function hashAttributes(attributes: Attributes): string {
  let keys = Object.keys(attributes);
  if (keys.length === 0) return '';
  keys = keys.sort();
  return JSON.stringify(keys.map((key) => [key, attributes[key]]));
}

/** sdk-metrics' binarySearchUB: the index of the first boundary >= value (boundaries.length past the last). */
function binarySearchUB(boundaries: readonly number[], value: number): number {
  let lo = 0;
  let hi = boundaries.length - 1;
  let ret = boundaries.length;
  while (hi >= lo) {
    const mid = lo + Math.trunc((hi - lo) / 2);
    if ((boundaries[mid] as number) < value) lo = mid + 1;
    else {
      ret = mid;
      hi = mid - 1;
    }
  }
  return ret;
}

/** As ExplicitBucketHistogramAggregation's constructor: a sorted copy without the infinities. */
function normaliseBoundaries(advice: readonly number[]): number[] {
  const sorted = [...advice].sort((a, b) => a - b);
  const minusInfinity = sorted.lastIndexOf(-Infinity);
  const infinity = sorted.indexOf(Infinity);
  return sorted.slice(minusInfinity + 1, infinity === -1 ? undefined : infinity);
}
