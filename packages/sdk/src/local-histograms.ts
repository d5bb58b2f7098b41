import type { Meter, MetricOptions } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationType,
  InstrumentType,
  type CollectionResult,
  type MetricData,
  type MetricProducer,
  type MetricReader,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import { reportTelemetryError } from './errors.ts';
import { LocalHistogram, type SlotReader } from './local-histogram.ts';

/**
 * llmsec's histograms aggregated in process and handed to the readers through MetricProducers
 * (issue 13; the aggregation itself is local-histogram.ts). Only where llmsec builds every
 * reader of the MeterProvider (setupLlmsec without `metricReaders`): each reader gets one
 * producer at construction (`metricProducers`), and setupLlmsec then `attach`es the meters
 * whose histograms go through them. Everywhere else (a host's MeterProvider, readers llmsec did
 * not build, a reader whose histogram aggregation is not the default) `LocalHistograms.on`
 * answers undefined and LlmsecMetrics creates the SDK's Histogram as before.
 *
 * Checked against @opentelemetry/sdk-metrics 3.1.1 (dist/export/MetricReader.mjs): a reader's
 * collect() runs the SDK's producer and every `metricProducers` entry and concatenates their
 * scopeMetrics under the SDK's resource (a producer's resource is ignored). So the histograms
 * of a scope arrive as a second ScopeMetrics with the same scope, after the SDK's one.
 */
export class LocalHistograms {
  private readonly readers: SlotReader[] = [];
  private readonly producers: LocalHistogramProducer[] = [];
  private readonly scopes: AttachedScope[] = [];

  /** A producer for the next reader: pass it in the reader's `metricProducers`, then `bind` the reader. */
  producer(): LocalHistogramProducer {
    const producer = new LocalHistogramProducer(this, this.producers.length);
    this.producers.push(producer);
    return producer;
  }

  /**
   * True when every reader of the provider is bound to one of these producers and aggregates
   * histograms the default way (explicit buckets from the instrument's advice): only then do the
   * producers export exactly what the SDK would.
   */
  covers(readers: readonly MetricReader[]): boolean {
    if (readers.length === 0 || readers.length !== this.producers.length) return false;
    return readers.every(
      (reader) =>
        this.producers.some((p) => p.reader === reader) &&
        reader.selectAggregation(InstrumentType.HISTOGRAM).type === AggregationType.DEFAULT,
    );
  }

  /** From now on, histograms created on `meter` (scope `name`, `version`) are local. Before any record. */
  attach(meter: Meter, name: string, version = ''): void {
    if (this.readers.length !== this.producers.length)
      throw new Error('LocalHistograms: a producer has no reader');
    const scope: AttachedScope = { scope: { name, version, schemaUrl: undefined }, histograms: new Map() };
    this.scopes.push(scope);
    attached.set(meter, { owner: this, scope });
  }

  /** The local histogram `name` on `meter` when the meter is attached (shared per name), else undefined. */
  static on(
    meter: Meter,
    name: string,
    options: MetricOptions & { advice: NonNullable<MetricOptions['advice']> },
  ): LocalHistogram | undefined {
    const found = attached.get(meter);
    if (found === undefined) return undefined;
    let histogram = found.scope.histograms.get(name);
    if (histogram === undefined) {
      histogram = new LocalHistogram(name, options);
      for (const reader of found.owner.readers) histogram.addReader(reader);
      found.scope.histograms.set(name, histogram);
    }
    return histogram;
  }

  /** @internal LocalHistogramProducer.bind */
  bindReader(slot: number, reader: SlotReader): void {
    if (slot !== this.readers.length) throw new Error('LocalHistograms: bind the readers in producer order');
    this.readers.push(reader);
  }

  /** @internal LocalHistogramProducer.collect */
  scopeMetrics(slot: number, collectionTime: ReturnType<typeof millisToHrTime>): ScopeMetrics[] {
    const out: ScopeMetrics[] = [];
    for (const { scope, histograms } of this.scopes) {
      const metrics: MetricData[] = [];
      for (const histogram of histograms.values()) {
        const data = histogram.collect(slot, collectionTime);
        if (data !== undefined) metrics.push(data);
      }
      if (metrics.length > 0) out.push({ scope, metrics });
    }
    return out;
  }
}

interface AttachedScope {
  readonly scope: ScopeMetrics['scope'];
  readonly histograms: Map<string, LocalHistogram>;
}

const attached = new WeakMap<Meter, { owner: LocalHistograms; scope: AttachedScope }>();
const NO_RESOURCE = emptyResource();

/** One reader's view of the local histograms. */
export class LocalHistogramProducer implements MetricProducer {
  reader: MetricReader | undefined;
  private readonly owner: LocalHistograms;
  private readonly slot: number;

  constructor(owner: LocalHistograms, slot: number) {
    this.owner = owner;
    this.slot = slot;
  }

  /** The reader this producer was given to (its temporality and cardinality limit apply). */
  bind(reader: MetricReader): void {
    this.reader = reader;
    this.owner.bindReader(this.slot, reader);
  }

  async collect(): Promise<CollectionResult> {
    // The SDK's own producer took its collection time synchronously just before this call
    // (MetricReader.collect calls both in one Promise.all); the same clock, read the same way.
    const collectionTime = millisToHrTime(Date.now());
    try {
      return {
        resourceMetrics: {
          resource: NO_RESOURCE,
          scopeMetrics: this.owner.scopeMetrics(this.slot, collectionTime),
        },
        errors: [],
      };
    } catch (err) {
      // A collection must not fail because of llmsec: count it, export the rest.
      reportTelemetryError('metrics', err);
      return { resourceMetrics: { resource: NO_RESOURCE, scopeMetrics: [] }, errors: [] };
    }
  }
}
