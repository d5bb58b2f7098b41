import { describe, expect, it } from 'vitest';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { METRIC_EVENTS, METRIC_REQUESTS, type SecurityEvent } from '@llmsec/core';
import { AttributeCache } from '../src/attribute-cache.ts';
import { LlmsecMetrics } from '../src/metrics.ts';
import { TestMetricReader } from './harness.ts';

describe('AttributeCache', () => {
  it('returns the stored frozen set, distinguishes absent from empty keys, and stops storing at its bound', () => {
    const cache = new AttributeCache(2);
    const a = cache.set('x', undefined, undefined, undefined, { k: 1 });
    expect(Object.isFrozen(a)).toBe(true);
    expect(cache.get('x', undefined, undefined, undefined)).toBe(a);
    expect(cache.get('x', '', undefined, undefined)).toBeUndefined();
    cache.set('y', undefined, undefined, undefined, { k: 2 });
    const c = cache.set('z', undefined, undefined, undefined, { k: 3 });
    expect(Object.isFrozen(c)).toBe(true);
    expect(cache.get('z', undefined, undefined, undefined)).toBeUndefined();
    cache.set('x'.repeat(200), undefined, undefined, undefined, { k: 4 });
    expect(cache.get('x'.repeat(200), undefined, undefined, undefined)).toBeUndefined();
  });
});

describe('LlmsecMetrics with cached attribute sets', () => {
  const ev = (over: Partial<SecurityEvent>): SecurityEvent => ({
    event_id: 'EVT-000000000001',
    timestamp: '2026-11-22T10:00:00.000Z',
    category: 'guardrail_block',
    severity: 'warning',
    user_id: 'u',
    ...over,
  });

  it('records the same series on repeated, long, non-string and absent label values as uncached records would', async () => {
    const reader = new TestMetricReader();
    const metrics = new LlmsecMetrics({ meter: new MeterProvider({ readers: [reader] }).getMeter('t') });
    const long = 'm'.repeat(200);
    for (let i = 0; i < 3; i++) {
      metrics.recordRequest({ outcome: 'allowed', model: long });
      metrics.recordRequest({ outcome: 'allowed' });
      metrics.recordRequest({ outcome: 'allowed', model: '' });
      metrics.recordEvent(ev({ metadata: { guardrail_layer: 'injection' } }));
      metrics.recordEvent(ev({ metadata: { guardrail_layer: 7 } }));
      metrics.recordEvent(ev({ metadata: { guardrail_layer: '' } }));
      metrics.recordEvent(ev({}));
    }
    const requests = (await reader.metric(METRIC_REQUESTS))!.dataPoints.map((p) => [p.attributes, p.value]);
    expect(requests).toEqual([
      [{ outcome: 'allowed', model: 'other' }, 3], // not a price-table model
      [{ outcome: 'allowed', model: 'unknown' }, 6],
    ]);
    const events = (await reader.metric(METRIC_EVENTS))!.dataPoints.map((p) => [p.attributes, p.value]);
    expect(events).toEqual([
      [{ category: 'guardrail_block', severity: 'warning', layer: 'injection' }, 3],
      [{ category: 'guardrail_block', severity: 'warning', layer: '7' }, 3],
      [{ category: 'guardrail_block', severity: 'warning', layer: 'unknown' }, 3],
      [{ category: 'guardrail_block', severity: 'warning' }, 3],
    ]);
  });
});

describe('AttributeCache memo of the last set found', () => {
  it('answers like the maps for any sequence of lookups and stores (replacements included)', () => {
    const cache = new AttributeCache(100); // more than the 81 key tuples: every store is kept
    const reference = new Map<string, object>();
    const keys = ['a', 'b', undefined] as const;
    const pick = (n: number): string | undefined => keys[n % 3];
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let i = 0; i < 5000; i++) {
      const k = [pick(next()), pick(next()), pick(next()), pick(next())] as const;
      const id = JSON.stringify(k.map((x) => x ?? null));
      if (next() % 4 === 0) {
        const set = cache.set(k[0], k[1], k[2], k[3], { i });
        reference.set(id, set);
      }
      expect(cache.get(k[0], k[1], k[2], k[3])).toBe(reference.get(id));
      // The same lookup twice (the memo's case) answers alike.
      expect(cache.get(k[0], k[1], k[2], k[3])).toBe(reference.get(id));
    }
  });
});
