import { afterEach, describe, expect, it } from 'vitest';
import type { MetricReader } from '@opentelemetry/sdk-metrics';
import { METRIC_GUARDRAIL_DURATION } from '@llmsec/core';
import { setupLlmsec, type LlmsecSetup } from '../src/setup.ts';
import { TestMetricReader } from './harness.ts';

let current: LlmsecSetup | undefined;
afterEach(async () => {
  await current?.shutdown();
  current = undefined;
});

/** The scopes that carry the guardrail histogram in one Prometheus collection. */
async function guardScopes(setup: LlmsecSetup): Promise<string[]> {
  const reader = setup.prometheus as unknown as MetricReader;
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics
    .filter((s) => s.metrics.some((m) => m.descriptor.name === METRIC_GUARDRAIL_DURATION))
    .map(
      (s) =>
        `${s.scope.name} (${resourceMetrics.scopeMetrics.filter((o) => o.scope.name === s.scope.name).length} entries)`,
    );
}

describe('setupLlmsec and the local histograms', () => {
  it('aggregates llmsec histograms in process when it built every reader (a second ScopeMetrics of the same scope)', async () => {
    current = setupLlmsec({
      serviceName: 't',
      registerGlobal: false,
      otlp: false,
      prometheus: { preventServerStart: true },
    });
    current.metrics.recordGuardrailDuration({ layer: 'pii', outcome: 'allow', seconds: 0.001 });
    current.metrics.recordEvent({
      event_id: 'EVT-000000000001',
      timestamp: '2026-12-04T10:00:00.000Z',
      category: 'guardrail_block',
      severity: 'warning',
      user_id: 'u',
    });
    expect(await guardScopes(current)).toEqual(['@llmsec/sdk (2 entries)']);
  });

  it("falls back to the SDK's histograms when the host adds a reader of its own", async () => {
    current = setupLlmsec({
      serviceName: 't',
      registerGlobal: false,
      otlp: false,
      prometheus: { preventServerStart: true },
      metricReaders: [new TestMetricReader()],
    });
    current.metrics.recordGuardrailDuration({ layer: 'pii', outcome: 'allow', seconds: 0.001 });
    current.metrics.recordEvent({
      event_id: 'EVT-000000000001',
      timestamp: '2026-12-04T10:00:00.000Z',
      category: 'guardrail_block',
      severity: 'warning',
      user_id: 'u',
    });
    expect(await guardScopes(current)).toEqual(['@llmsec/sdk (1 entries)']);
  });
});
