import { describe, expect, it } from 'vitest';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { METRIC_COST, METRIC_EVENTS, METRIC_REQUESTS, type SecurityEvent } from '@llmsec/core';
import { LocalCounter } from '../src/local-counter.ts';
import { LlmsecMetrics } from '../src/metrics.ts';
import { TestMetricReader } from './harness.ts';

class DeltaReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
  async metric(name: string): Promise<MetricData | undefined> {
    const { resourceMetrics } = await this.collect();
    return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  }
}

const event: SecurityEvent = {
  event_id: 'EVT-000000000001',
  timestamp: '2026-11-22T10:00:00.000Z',
  category: 'guardrail_block',
  severity: 'warning',
  user_id: 'user-1',
  metadata: { guardrail_layer: 'injection' },
};

describe('LocalCounter (llmsec counters summed in process, read at collection)', () => {
  it('exports a monotonic cumulative sum per attribute set, as the synchronous counter did', async () => {
    const reader = new TestMetricReader();
    const metrics = new LlmsecMetrics({ meter: new MeterProvider({ readers: [reader] }).getMeter('t') });
    for (let i = 0; i < 3; i++) metrics.recordEvent(event);
    metrics.recordRequest({ outcome: 'allowed', model: 'gpt-4o-mini' });
    metrics.recordCost({ model: 'gpt-4o-mini', usd: 0.25 });
    metrics.recordCost({ model: 'gpt-4o-mini', usd: 0.5 });
    const events = (await reader.metric(METRIC_EVENTS))!;
    expect(events.dataPointType).toBe(DataPointType.SUM);
    expect(events.dataPoints.map((p) => [p.attributes, p.value])).toEqual([
      [{ category: 'guardrail_block', severity: 'warning', layer: 'injection' }, 3],
    ]);
    expect((await reader.metric(METRIC_REQUESTS))!.dataPoints.map((p) => p.value)).toEqual([1]);
    expect((await reader.metric(METRIC_COST))!.dataPoints.map((p) => p.value)).toEqual([0.75]);
    metrics.recordEvent(event);
    // Cumulative: the second collection sees the running total.
    expect((await reader.metric(METRIC_EVENTS))!.dataPoints.map((p) => p.value)).toEqual([4]);
  });

  it('a delta reader gets the increments between collections', async () => {
    const reader = new DeltaReader();
    const metrics = new LlmsecMetrics({ meter: new MeterProvider({ readers: [reader] }).getMeter('t') });
    metrics.recordEvent(event);
    metrics.recordEvent(event);
    expect((await reader.metric(METRIC_EVENTS))!.dataPoints.map((p) => p.value)).toEqual([2]);
    metrics.recordEvent(event);
    expect((await reader.metric(METRIC_EVENTS))!.dataPoints.map((p) => p.value)).toEqual([1]);
  });

  it('two LlmsecMetrics on one meter add up (one shared sum, not two observations of which the SDK keeps the last)', async () => {
    const reader = new TestMetricReader();
    const meter = new MeterProvider({ readers: [reader] }).getMeter('t');
    const a = new LlmsecMetrics({ meter });
    const b = new LlmsecMetrics({ meter });
    a.recordEvent(event);
    b.recordEvent(event);
    b.recordEvent(event);
    expect((await reader.metric(METRIC_EVENTS))!.dataPoints.map((p) => p.value)).toEqual([3]);
  });

  it('sets built per call with the same entries (any key order) are one series; series past the cap overflow into one set', async () => {
    const reader = new TestMetricReader();
    const meter = new MeterProvider({ readers: [reader] }).getMeter('t');
    const counter = LocalCounter.on(meter, 'test.counter', {});
    counter.add(1, { a: 'x', b: 'y' });
    counter.add(2, { b: 'y', a: 'x' });
    for (let i = 0; i < 2100; i++) counter.add(1, { n: i });
    const points = (await reader.metric('test.counter'))!.dataPoints;
    expect(points.find((p) => p.attributes.a === 'x')?.value).toBe(3);
    expect(points.length).toBe(2000); // 1,999 series and the overflow set: the SDK's default limit
    expect(points.find((p) => p.attributes['otel.metric.overflow'] === true)?.value).toBe(102);
  });

  it('adds to the right series when sets alternate, repeat, or repeat after another set (the last-set memo)', async () => {
    const reader = new TestMetricReader();
    const meter = new MeterProvider({ readers: [reader] }).getMeter('t');
    const counter = LocalCounter.on(meter, 'memo.test', {});
    const a = Object.freeze({ k: 'a' });
    const b = Object.freeze({ k: 'b' });
    const aAgain = { k: 'a' }; // another object, same entries: the same series
    for (const [set, n] of [
      [a, 1],
      [a, 2],
      [b, 4],
      [a, 8],
      [aAgain, 16],
      [b, 32],
      [b, 64],
      [a, 128],
    ] as const)
      counter.add(n, set);
    const points = (await reader.metric('memo.test'))!.dataPoints;
    expect(Object.fromEntries(points.map((p) => [p.attributes.k, p.value]))).toEqual({ a: 155, b: 100 });
  });
});
