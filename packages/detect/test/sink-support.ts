import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { Meter } from '@opentelemetry/api';
import type { Alert } from '@llmsec/core';
import type { FetchLike } from '../src/sinks/http-post.ts';

/** A metric reader collected on demand: the test reads counters without an exporter or timer. */
class PullReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface TestMetrics {
  meter: Meter;
  /** Sum of a counter's points whose attributes include `match`. */
  sum(name: string, match: Record<string, string>): Promise<number>;
}

export function testMetrics(): TestMetrics {
  const reader = new PullReader();
  const provider = new MeterProvider({ readers: [reader] });
  return {
    meter: provider.getMeter('test'),
    sum: async (name, match) => {
      const { resourceMetrics } = await reader.collect();
      let total = 0;
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          if (metric.descriptor.name !== name) continue;
          for (const point of metric.dataPoints) {
            const attrs = point.attributes as Record<string, unknown>;
            if (Object.entries(match).every(([k, v]) => attrs[k] === v)) total += point.value as number;
          }
        }
      }
      return total;
    },
  };
}

export interface FetchCall {
  url: string;
  headers: Record<string, string>;
  body: unknown;
  status: number;
}

/**
 * A fetch that records every call and answers `respond(url, n)`: an HTTP status, or 0 for a
 * network error (connection refused), which it throws like the real fetch.
 */
export function fakeFetch(respond: (url: string, call: number) => number): {
  fetch: FetchLike;
  calls: FetchCall[];
} {
  const calls: FetchCall[] = [];
  const fetch: FetchLike = async (url, init) => {
    const status = respond(url, calls.length + 1);
    calls.push({ url, headers: init.headers, body: JSON.parse(init.body) as unknown, status });
    if (status === 0) throw new TypeError('fetch failed');
    return { status, text: async () => '' };
  };
  return { fetch, calls };
}

export function alert(overrides: Partial<Alert> = {}): Alert {
  return {
    alert_id: 'ALR-1',
    rule: 'rapid_guardrail_blocks',
    severity: 'alert',
    status: 'firing',
    labels: { user_id: 'u1' },
    user_ids: ['u1'],
    starts_at: '2026-11-22T10:00:00.000Z',
    description: '20 guardrail blocks in 5m (threshold 20)',
    evidence: ['EVT-000000000001', 'EVT-000000000002'],
    trace_ids: ['0af7651916cd43dd8448eb211c80319c'],
    title: 'Rapid guardrail blocks',
    runbook_url: 'https://runbooks.example/rapid_guardrail_blocks',
    trigger: { trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331' },
    ...overrides,
  };
}

export function resolved(a: Alert, endsAt = '2026-11-22T10:10:00.000Z'): Alert {
  return { ...a, status: 'resolved', ends_at: endsAt };
}
