import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import {
  AggregationTemporality,
  AggregationType,
  MeterProvider,
  MetricReader,
  type MetricProducer,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { METRIC_GUARDRAIL_DURATION } from '@llmsec/core';
import { LlmsecMetrics } from '../src/metrics.ts';
import { LocalHistograms } from '../src/local-histograms.ts';

/** A reader collected by hand, cumulative or delta, with an optional cardinality limit. */
class Reader extends MetricReader {
  constructor(temporality: AggregationTemporality, limit?: number, producers: MetricProducer[] = []) {
    super({
      aggregationTemporalitySelector: () => temporality,
      ...(limit === undefined ? {} : { cardinalitySelector: () => limit }),
      metricProducers: producers,
    });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

type Spec = { temporality: AggregationTemporality; limit?: number };

/** The SDK's instruments (what llmsec recorded before) on readers of `specs`. */
function sdkWorld(specs: Spec[]) {
  const readers = specs.map((s) => new Reader(s.temporality, s.limit));
  const provider = new MeterProvider({ readers });
  return { readers, metrics: new LlmsecMetrics({ meter: provider.getMeter('@llmsec/sdk') }) };
}

/** The same readers, each with a producer of the local histograms, as setupLlmsec builds them. */
function localWorld(specs: Spec[]) {
  const histograms = new LocalHistograms();
  const readers = specs.map((s) => {
    const producer = histograms.producer();
    const reader = new Reader(s.temporality, s.limit, [producer]);
    producer.bind(reader);
    return reader;
  });
  const provider = new MeterProvider({ readers });
  expect(histograms.covers(readers)).toBe(true);
  histograms.attach(provider.getMeter('@llmsec/sdk'), '@llmsec/sdk');
  return { readers, provider, metrics: new LlmsecMetrics({ meter: provider.getMeter('@llmsec/sdk') }) };
}

/** One ScopeMetrics per scope (the producer's histograms arrive as a second entry of the same scope). */
function normalise(rm: ResourceMetrics) {
  const byScope = new Map<string, { scope: unknown; metrics: unknown[] }>();
  for (const sm of rm.scopeMetrics) {
    const id = `${sm.scope.name}:${sm.scope.version ?? ''}:${sm.scope.schemaUrl ?? ''}`;
    let entry = byScope.get(id);
    if (entry === undefined) byScope.set(id, (entry = { scope: sm.scope, metrics: [] }));
    entry.metrics.push(...sm.metrics);
  }
  return { resource: rm.resource.attributes, scopeMetrics: [...byScope.values()] };
}

const LAYERS = [
  'injection',
  'pii',
  'leakage',
  'tools',
  ...Array.from({ length: 60 }, (_, i) => `invented-${i}`),
];
const MODELS = [
  'gpt-4o-mini',
  'gpt-4o-mini-2024-07-18',
  'claude-3-5-sonnet-20241022',
  'no-such-model',
  'x'.repeat(200),
];
const tokens = fc.record({
  kind: fc.constant('tokens' as const),
  tokens: fc.oneof(fc.nat(300), fc.constantFrom(0, -0, 1, 4, 16, 67108864, 1e9)),
  tokenType: fc.constantFrom('input' as const, 'output' as const),
  model: fc.constantFrom(...MODELS),
  provider: fc.constantFrom('openai', 'anthropic'),
  operation: fc.constantFrom('chat', 'embeddings'),
});
const duration = fc.record({
  kind: fc.constant('duration' as const),
  seconds: fc.oneof(fc.double({ min: 0, max: 100, noNaN: true }), fc.constantFrom(0, 0.01, 0.16, 81.92)),
  model: fc.constantFrom(...MODELS),
  errorType: fc.constantFrom(undefined, 'APIError', 'TimeoutError'),
});
const guard = fc.record({
  kind: fc.constant('guard' as const),
  seconds: fc.oneof(fc.double({ min: 0, max: 0.01, noNaN: true }), fc.constantFrom(0, -0, 1e-6, 0.001)),
  layer: fc.constantFrom(...LAYERS),
  outcome: fc.constantFrom('allow', 'block', 'modify', 'weird'),
});
// Collections rarer than records, so that intervals hold enough series to reach the small limit.
const op = fc.oneof(
  { arbitrary: tokens, weight: 3 },
  { arbitrary: duration, weight: 3 },
  { arbitrary: guard, weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.nat(5) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('collect' as const), reader: fc.nat(2) }), weight: 1 },
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

function apply(metrics: LlmsecMetrics, o: Op): void {
  if (o.kind === 'tokens') metrics.recordTokenUsage(o);
  else if (o.kind === 'duration')
    metrics.recordOperationDuration({ ...o, operation: 'chat', provider: 'openai' });
  else if (o.kind === 'guard') metrics.recordGuardrailDuration(o);
}

describe('local histograms (aggregated by llmsec, read through MetricProducers)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-04T12:00:00.000Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('export what the SDK histograms export, on random call mixes and collections (cumulative, delta, a small cardinality limit)', async () => {
    const specs: Spec[] = [
      { temporality: AggregationTemporality.CUMULATIVE },
      { temporality: AggregationTemporality.DELTA },
      { temporality: AggregationTemporality.CUMULATIVE, limit: 6 },
    ];
    // size 'max': fast-check's default size keeps arrays near 10 ops, too short for a reader to
    // collect twice with records and time between (a wrong cumulative start time went unseen).
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 200, size: 'max' }), async (ops) => {
        const sdk = sdkWorld(specs);
        const local = localWorld(specs);
        const serializer = new PrometheusSerializer();
        for (const o of [...ops, ...[0, 1, 2].map((reader) => ({ kind: 'collect' as const, reader }))]) {
          if (o.kind === 'tick') vi.advanceTimersByTime(o.ms);
          else if (o.kind === 'collect') {
            const a = await sdk.readers[o.reader]!.collect();
            const b = await local.readers[o.reader]!.collect();
            expect(b.errors).toEqual([]);
            expect(normalise(b.resourceMetrics)).toEqual(normalise(a.resourceMetrics));
            // The Prometheus text format of the same collection, byte for byte.
            expect(serializer.serialize(b.resourceMetrics as never)).toBe(
              serializer.serialize(a.resourceMetrics as never),
            );
          } else {
            apply(sdk.metrics, o);
            apply(local.metrics, o);
          }
        }
      }),
      { numRuns: 100 },
    );
    // 100 mixes of up to 200 calls, each collection compared twice: the file's run took 8.6 s of
    // CPU, and this case 75 s at load 14 on 2 cores (the 30 s default timeout).
  }, 300_000);

  it('with the instrumentation scope and the counters too: the same series per scope; Prometheus: the same families, maybe in another order', async () => {
    // As setupLlmsec attaches them: the setup's meter and the LLM client instrumentation's.
    // The producers' scopes come after all of the SDK's, so a family first seen in the second
    // scope's counters can precede one first seen in the first scope's histograms: the
    // Prometheus text then holds the same family blocks in another order (not byte for byte).
    const INSTRUMENTATION = ['@llmsec/sdk/instrumentation', '0.1.0'] as const;
    const spec = { temporality: AggregationTemporality.CUMULATIVE };
    const sdkReader = new Reader(spec.temporality);
    const sdkProvider = new MeterProvider({ readers: [sdkReader] });
    const histograms = new LocalHistograms();
    const producer = histograms.producer();
    const localReader = new Reader(spec.temporality, undefined, [producer]);
    producer.bind(localReader);
    const localProvider = new MeterProvider({ readers: [localReader] });
    histograms.attach(localProvider.getMeter('@llmsec/sdk'), '@llmsec/sdk');
    histograms.attach(localProvider.getMeter(...INSTRUMENTATION), ...INSTRUMENTATION);
    const pairs = [sdkProvider, localProvider].map((provider) => ({
      setup: new LlmsecMetrics({ meter: provider.getMeter('@llmsec/sdk') }),
      instrumentation: new LlmsecMetrics({ meter: provider.getMeter(...INSTRUMENTATION) }),
    }));
    // The setup's metrics record the events and guard durations, the instrumentation's the rest.
    for (const { setup, instrumentation } of pairs) {
      setup.recordEvent({
        event_id: 'EVT-000000000001',
        timestamp: '2026-12-04T10:00:00.000Z',
        category: 'guardrail_block',
        severity: 'warning',
        user_id: 'u',
      });
      setup.recordGuardrailDuration({ layer: 'pii', outcome: 'allow', seconds: 0.001 });
      instrumentation.recordRequest({ outcome: 'allowed', model: 'gpt-4o-mini' });
      instrumentation.recordTokenUsage({
        operation: 'chat',
        provider: 'openai',
        model: 'gpt-4o-mini',
        tokenType: 'input',
        tokens: 5,
      });
      instrumentation.recordGuardrailDuration({ layer: 'injection', outcome: 'block', seconds: 0.002 });
    }
    const a = (await sdkReader.collect()).resourceMetrics;
    const b = (await localReader.collect()).resourceMetrics;
    const byScope = (rm: ResourceMetrics) =>
      normalise(rm).scopeMetrics.sort((x, y) => (JSON.stringify(x.scope) < JSON.stringify(y.scope) ? -1 : 1));
    expect(byScope(b)).toEqual(byScope(a));
    const serializer = new PrometheusSerializer();
    const families = (text: string) => text.split(/(?=^# HELP )/m).sort();
    const textA = serializer.serialize(a as never);
    const textB = serializer.serialize(b as never);
    expect(families(textB)).toEqual(families(textA));
    expect(families(textA).length).toBe(5); // target_info, events, guard duration, requests, tokens
  });

  it('a histogram without advised boundaries gets the SDK default buckets, as the SDK gives it', async () => {
    const sdkReader = new Reader(AggregationTemporality.CUMULATIVE);
    const sdkProvider = new MeterProvider({ readers: [sdkReader] });
    const local = localWorld([{ temporality: AggregationTemporality.CUMULATIVE }]);
    const a = sdkProvider.getMeter('@llmsec/sdk').createHistogram('raw');
    const b = LocalHistograms.on(local.provider.getMeter('@llmsec/sdk'), 'raw', { advice: {} })!;
    for (const value of [0, 3, 5, 7, 300, 20_000]) {
      a.record(value, { k: 'v' });
      b.record(value, { k: 'v' });
    }
    const buckets = async (reader: MetricReader) =>
      (await reader.collect()).resourceMetrics.scopeMetrics
        .flatMap((s) => s.metrics)
        .find((m) => m.descriptor.name === 'raw')!
        .dataPoints.map((p) => p.value);
    expect(await buckets(local.readers[0]!)).toEqual(await buckets(sdkReader));
  });

  it('two LlmsecMetrics on one attached meter share each histogram (as the SDK does for one instrument name)', async () => {
    const local = localWorld([{ temporality: AggregationTemporality.CUMULATIVE }]);
    const second = new LlmsecMetrics({ meter: local.provider.getMeter('@llmsec/sdk') });
    local.metrics.recordGuardrailDuration({ layer: 'pii', outcome: 'allow', seconds: 0.001 });
    second.recordGuardrailDuration({ layer: 'pii', outcome: 'allow', seconds: 0.002 });
    const { resourceMetrics } = await local.readers[0]!.collect();
    const guard = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === METRIC_GUARDRAIL_DURATION);
    expect(guard?.dataPoints.map((p) => (p.value as { count: number }).count)).toEqual([2]);
  });

  it('the meter is attached only where every reader has a producer and the default histogram aggregation', () => {
    const histograms = new LocalHistograms();
    const producer = histograms.producer();
    const ours = new Reader(AggregationTemporality.CUMULATIVE, undefined, [producer]);
    producer.bind(ours);
    expect(histograms.covers([ours])).toBe(true);
    expect(histograms.covers([ours, new Reader(AggregationTemporality.CUMULATIVE)])).toBe(false);
    expect(histograms.covers([])).toBe(false);
    const exponential = new LocalHistograms();
    const p2 = exponential.producer();
    const reader = new (class extends Reader {
      override selectAggregation() {
        return { type: AggregationType.EXPONENTIAL_HISTOGRAM };
      }
    })(AggregationTemporality.CUMULATIVE, undefined, [p2]);
    p2.bind(reader);
    expect(exponential.covers([reader])).toBe(false);
    // Not attached: LlmsecMetrics falls back to the SDK's Histogram.
    const meter = new MeterProvider({ readers: [new Reader(AggregationTemporality.CUMULATIVE)] }).getMeter(
      'm',
    );
    expect(LocalHistograms.on(meter, 'h', { advice: {} })).toBeUndefined();
  });

  it('stays bounded under invented labels: layers fold into other, raw sets past the 2,000-series interval limit into the overflow series', async () => {
    const local = localWorld([{ temporality: AggregationTemporality.CUMULATIVE }]);
    for (let i = 0; i < 5000; i++)
      local.metrics.recordGuardrailDuration({ layer: `invented-${i}`, outcome: `o-${i}`, seconds: 0.001 });
    const histogram = LocalHistograms.on(local.provider.getMeter('@llmsec/sdk'), 'raw', { advice: {} })!;
    for (let i = 0; i < 12_000; i++) histogram.record(1, { n: i });
    const { resourceMetrics } = await local.readers[0]!.collect();
    const points = (name: string) =>
      resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name)!
        .dataPoints;
    expect(points(METRIC_GUARDRAIL_DURATION).length).toBeLessThanOrEqual(51 * 4);
    const raw = points('raw');
    // 1,999 series and the overflow set per interval (the SDK's default limit): the same as the SDK.
    expect(raw.length).toBe(2000);
    expect(raw.find((p) => p.attributes['otel.metric.overflow'] === true)?.value).toMatchObject({
      count: 10_001,
    });
  });

  it('keeps at most 10,000 attribute sets over its life: with a delta reader, later new sets go to the overflow series', async () => {
    // The SDK forgets a delta reader's series every interval; this keeps its sets (byHash), so
    // the bound is what holds its memory under sets that keep changing.
    const local = localWorld([{ temporality: AggregationTemporality.DELTA }]);
    const histogram = LocalHistograms.on(local.provider.getMeter('@llmsec/sdk'), 'raw', { advice: {} })!;
    let points: { attributes: Record<string, unknown>; value: unknown }[] = [];
    for (let interval = 0; interval < 6; interval++) {
      for (let i = 0; i < 1900; i++) histogram.record(1, { n: interval * 1900 + i });
      const { resourceMetrics } = await local.readers[0]!.collect();
      points = resourceMetrics.scopeMetrics
        .flatMap((s) => s.metrics)
        .find((m) => m.descriptor.name === 'raw')!.dataPoints as typeof points;
    }
    // The sixth interval: sets 9,500..11,399, of which 10,000.. are past the bound.
    expect(points.length).toBe(501);
    expect(points.find((p) => p.attributes['otel.metric.overflow'] === true)?.value).toMatchObject({
      count: 1400,
    });
  });

  it('a failing collection reaches neither the reader nor the host: it is counted and the rest is exported', async () => {
    const local = localWorld([{ temporality: AggregationTemporality.CUMULATIVE }]);
    local.metrics.recordGuardrailDuration({ layer: 'pii', outcome: 'allow', seconds: 0.001 });
    const histogram = LocalHistograms.on(local.provider.getMeter('@llmsec/sdk'), METRIC_GUARDRAIL_DURATION, {
      advice: {},
    })!;
    histogram.collect = () => {
      throw new Error('boom');
    };
    const { resourceMetrics, errors } = await local.readers[0]!.collect();
    expect(errors).toEqual([]);
    expect(
      resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => m.descriptor.name),
    ).not.toContain(METRIC_GUARDRAIL_DURATION);
  });
});
