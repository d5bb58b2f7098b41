import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { MetricReader } from '@opentelemetry/sdk-metrics';
import { METRIC_GEN_AI_TOKEN_USAGE, METRIC_GUARDRAIL_DURATION, METRIC_REQUESTS } from '@llmsec/core';
import { LlmsecMetrics } from '../src/metrics.ts';
import { INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION } from '../src/instrumentation/runtime.ts';
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

  it("aggregates the LLM client instrumentation's histograms on its own meter too (its scope and version)", async () => {
    current = setupLlmsec({
      serviceName: 't',
      registerGlobal: false,
      otlp: false,
      prometheus: { preventServerStart: true },
    });
    // What LlmClientInstrumentation builds on the provider setupLlmsec gives it.
    const instrumentation = new LlmsecMetrics({
      meter: current.meterProvider.getMeter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION),
    });
    instrumentation.recordRequest({ outcome: 'allowed', model: 'gpt-4o-mini' });
    instrumentation.recordTokenUsage({
      operation: 'chat',
      provider: 'openai',
      model: 'gpt-4o-mini',
      tokenType: 'input',
      tokens: 5,
    });
    const { resourceMetrics } = await (current.prometheus as unknown as MetricReader).collect();
    const scopes = resourceMetrics.scopeMetrics.filter((s) => s.scope.name === INSTRUMENTATION_NAME);
    // The SDK's entry (the requests counter), then the producer's (the token histogram).
    expect(scopes.map((s) => [s.scope.version, s.metrics.map((m) => m.descriptor.name)])).toEqual([
      [INSTRUMENTATION_VERSION, [METRIC_REQUESTS]],
      [INSTRUMENTATION_VERSION, [METRIC_GEN_AI_TOKEN_USAGE]],
    ]);
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

  it('OTLP/HTTP: the histograms on the wire as a second ScopeMetrics of the scope, cumulative across forceFlush and the final export at shutdown', async () => {
    const bodies: OtlpMetrics[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let raw = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
        if (req.url === '/v1/metrics') bodies.push(JSON.parse(raw.toString('utf8')) as OtlpMetrics);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const port = (receiver.address() as AddressInfo).port;
      current = setupLlmsec({
        serviceName: 't',
        registerGlobal: false,
        otlp: { endpoint: `http://127.0.0.1:${port}/` },
        prometheus: false,
      });
      const record = (seconds: number) =>
        current!.metrics.recordGuardrailDuration({ layer: 'pii', outcome: 'allow', seconds });
      record(0.001);
      current.metrics.recordEvent({
        event_id: 'EVT-000000000001',
        timestamp: '2026-12-04T10:00:00.000Z',
        category: 'guardrail_block',
        severity: 'warning',
        user_id: 'u',
      });
      await current.forceFlush();
      record(0.5);
      await current.shutdown();
      current = undefined;
      const guard = bodies.map((body) => {
        const scopes = body.resourceMetrics.flatMap((rm) => rm.scopeMetrics);
        // The SDK's block and the producer's block of the scope reach the wire as one
        // (SafeMetricExporter merges repeated scopes).
        expect(scopes.map((s) => s.scope.name)).toEqual(['@llmsec/sdk']);
        expect(scopes[0]!.metrics.map((m) => m.name)).toContain('llmsec.events');
        const metric = scopes[0]!.metrics.find((m) => m.name === 'llmsec.guardrail.duration')!;
        expect(metric.histogram!.aggregationTemporality).toBe(2); // CUMULATIVE on the wire
        return metric.histogram!.dataPoints.map((p) => [Number(p.count), p.sum, p.min, p.max]);
      });
      expect(guard).toEqual([[[1, 0.001, 0.001, 0.001]], [[2, 0.501, 0.001, 0.5]]]);
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  });
});

type OtlpMetrics = {
  resourceMetrics: Array<{
    scopeMetrics: Array<{
      scope: { name: string };
      metrics: Array<{
        name: string;
        histogram?: {
          aggregationTemporality: number;
          dataPoints: Array<{ count: number | string; sum: number; min: number; max: number }>;
        };
      }>;
    }>;
  }>;
};
