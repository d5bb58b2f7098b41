import { describe, expect, it } from 'vitest';
import { MeterProvider, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import {
  GEN_AI_DURATION_BUCKETS,
  GEN_AI_TOKEN_BUCKETS,
  GUARDRAIL_DURATION_BUCKETS,
  METRIC_EVENTS,
  METRIC_GEN_AI_OPERATION_DURATION,
  METRIC_GEN_AI_TOKEN_USAGE,
  METRIC_GUARDRAIL_DURATION,
  METRIC_COST,
  METRIC_REQUESTS,
  type SecurityEvent,
} from '@llmsec/core';
import { LlmsecMetrics } from '../src/metrics.ts';
import { TestMetricReader } from './harness.ts';

function setup(options: { maxLayers?: number } = {}) {
  const reader = new TestMetricReader();
  const provider = new MeterProvider({ readers: [reader] });
  const metrics = new LlmsecMetrics({ meter: provider.getMeter('t'), ...options });
  return { reader, metrics };
}

const ev = (over: Partial<SecurityEvent>): SecurityEvent => ({
  event_id: 'EVT-000000000001',
  timestamp: '2026-11-22T10:00:00.000Z',
  category: 'guardrail_block',
  severity: 'warning',
  user_id: 'user-1',
  session_id: 'session-1',
  ...over,
});

describe('LlmsecMetrics', () => {
  it('counts events by category, severity and layer, never by user or session', async () => {
    const { reader, metrics } = setup();
    metrics.recordEvent(ev({ metadata: { guardrail_layer: 'injection', block_reason: 'r' } }));
    metrics.recordEvent(
      ev({ metadata: { guardrail_layer: 'injection', block_reason: 'r' }, user_id: 'user-2' }),
    );
    metrics.recordEvent(
      ev({ category: 'output_filter_block', severity: 'alert', metadata: { filter_name: 'secrets' } }),
    );
    metrics.recordEvent(ev({ category: 'auth_failure', metadata: { reason: 'x' } }));
    const points = (await reader.metric(METRIC_EVENTS))!.dataPoints;
    expect(points.map((p) => [p.attributes, p.value])).toEqual([
      [{ category: 'guardrail_block', severity: 'warning', layer: 'injection' }, 2],
      [{ category: 'output_filter_block', severity: 'alert', layer: 'secrets' }, 1],
      [{ category: 'auth_failure', severity: 'warning' }, 1],
    ]);
  });

  it('never labels by the tool a tool_abuse_attempt names (the client chooses it): layers seen later keep theirs', async () => {
    const { reader, metrics } = setup();
    // A client declaring 60 invented tools, one request each (toolAllowlistGuard's events).
    for (let i = 0; i < 60; i++) {
      metrics.recordEvent(
        ev({
          category: 'tool_abuse_attempt',
          severity: 'alert',
          metadata: { tool_name: `mallory_${i}_alice@example.com`, block_reason: 'not allowed' },
        }),
      );
      metrics.recordGuardrailDuration({ layer: 'tool_allowlist', outcome: 'block', seconds: 0.0001 });
    }
    metrics.recordEvent(
      ev({
        category: 'output_filter_block',
        severity: 'alert',
        metadata: { filter_name: 'system_prompt_leakage' },
      }),
    );
    metrics.recordGuardrailDuration({ layer: 'system_prompt_leakage', outcome: 'allow', seconds: 0.0001 });
    expect((await reader.metric(METRIC_EVENTS))!.dataPoints.map((p) => [p.attributes, p.value])).toEqual([
      [{ category: 'tool_abuse_attempt', severity: 'alert' }, 60],
      [{ category: 'output_filter_block', severity: 'alert', layer: 'system_prompt_leakage' }, 1],
    ]);
    const guardLayers = (await reader.metric(METRIC_GUARDRAIL_DURATION))!.dataPoints.map(
      (p) => p.attributes.layer,
    );
    expect(guardLayers).toEqual(['tool_allowlist', 'system_prompt_leakage']);
  });

  it('folds layers past the cap into "other"', async () => {
    const { reader, metrics } = setup({ maxLayers: 3 });
    for (let i = 0; i < 10; i++) metrics.recordEvent(ev({ metadata: { guardrail_layer: `layer-${i}` } }));
    const layers = new Set((await reader.metric(METRIC_EVENTS))!.dataPoints.map((p) => p.attributes.layer));
    expect(layers).toEqual(new Set(['layer-0', 'layer-1', 'layer-2', 'other']));
  });

  it('model labels are the price table models: junk names, first or not, are "other" and cannot push real models out', async () => {
    const { reader, metrics } = setup();
    // An attacker's client sends many invented model names first...
    for (let i = 0; i < 1000; i++) metrics.recordRequest({ outcome: 'allowed', model: `junk-${i}` });
    // ...then real traffic: dated ids map to their table key, provider prefixes are ignored.
    metrics.recordRequest({ outcome: 'allowed', model: 'gpt-4o-mini-2024-07-18' });
    metrics.recordRequest({ outcome: 'allowed', model: 'openai/gpt-4o-mini' });
    metrics.recordRequest({ outcome: 'allowed', model: 'claude-sonnet-4-5-20250929' });
    metrics.recordCost({ model: 'gpt-4o-mini', usd: 0.5 });
    metrics.recordCost({ model: 'constructor', usd: 0.5 });
    metrics.recordTokenUsage({
      tokens: 5,
      tokenType: 'input',
      operation: 'chat',
      provider: 'openai',
      model: 'x'.repeat(5000),
    });
    const requests = (await reader.metric(METRIC_REQUESTS))!.dataPoints;
    expect(Object.fromEntries(requests.map((p) => [p.attributes.model, p.value]))).toEqual({
      other: 1000,
      'gpt-4o-mini': 2,
      'claude-sonnet-4-5': 1,
    });
    const cost = (await reader.metric(METRIC_COST))!.dataPoints.map((p) => p.attributes.model);
    expect(cost.sort()).toEqual(['gpt-4o-mini', 'other']);
    const tokens = (await reader.metric(METRIC_GEN_AI_TOKEN_USAGE))!.dataPoints.map(
      (p) => p.attributes['gen_ai.request.model'],
    );
    expect(tokens).toEqual(['other']);
  });

  it('knownModels: an operator price table labels its own models', async () => {
    const reader = new TestMetricReader();
    const metrics = new LlmsecMetrics({
      meter: new MeterProvider({ readers: [reader] }).getMeter('t'),
      knownModels: { 'acme-large': { inputPerMTokUsd: 1, outputPerMTokUsd: 2 } },
    });
    metrics.recordRequest({ outcome: 'allowed', model: 'acme-large-v2' });
    metrics.recordRequest({ outcome: 'allowed', model: 'gpt-4o' });
    const models = (await reader.metric(METRIC_REQUESTS))!.dataPoints.map((p) => p.attributes.model);
    expect(models.sort()).toEqual(['acme-large', 'other']);
  });

  it('unknown request outcomes become "other"', async () => {
    const { reader, metrics } = setup();
    metrics.recordRequest({ outcome: 'weird', model: 'm' });
    metrics.recordRequest({ outcome: 'rate_limited', model: 'm' });
    const outcomes = (await reader.metric(METRIC_REQUESTS))!.dataPoints.map((p) => p.attributes.outcome);
    expect(outcomes.sort()).toEqual(['other', 'rate_limited']);
  });

  it('GenAI histograms use the spec buckets and attributes', async () => {
    const { reader, metrics } = setup();
    metrics.recordTokenUsage({
      tokens: 100,
      tokenType: 'input',
      operation: 'chat',
      provider: 'openai',
      model: 'gpt-4o',
    });
    metrics.recordTokenUsage({
      tokens: 20,
      tokenType: 'output',
      operation: 'chat',
      provider: 'openai',
      model: 'gpt-4o',
    });
    metrics.recordOperationDuration({
      seconds: 0.5,
      operation: 'chat',
      provider: 'openai',
      model: 'gpt-4o',
      errorType: 'APIError',
    });
    metrics.recordGuardrailDuration({ layer: 'injection', outcome: 'block', seconds: 0.0002 });
    const tokens = (await reader.metric(METRIC_GEN_AI_TOKEN_USAGE)) as HistogramMetricData;
    expect(tokens.descriptor.unit).toBe('{token}');
    expect(tokens.dataPoints.map((p) => p.attributes)).toEqual([
      {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.token.type': 'input',
      },
      {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.token.type': 'output',
      },
    ]);
    expect(tokens.dataPoints[0]!.value.buckets.boundaries).toEqual(GEN_AI_TOKEN_BUCKETS);
    const duration = (await reader.metric(METRIC_GEN_AI_OPERATION_DURATION)) as HistogramMetricData;
    expect(duration.descriptor.unit).toBe('s');
    expect(duration.dataPoints[0]!.value.buckets.boundaries).toEqual(GEN_AI_DURATION_BUCKETS);
    expect(duration.dataPoints[0]!.attributes['error.type']).toBe('APIError');
    const guard = (await reader.metric(METRIC_GUARDRAIL_DURATION)) as HistogramMetricData;
    expect(guard.dataPoints[0]!.value.buckets.boundaries).toEqual(GUARDRAIL_DURATION_BUCKETS);
    expect(guard.dataPoints[0]!.attributes).toEqual({ layer: 'injection', outcome: 'block' });
  });

  it('ignores negative and non-finite measurements instead of throwing', async () => {
    const { reader, metrics } = setup();
    expect(() => {
      metrics.recordCost({ model: 'm', usd: -1 });
      metrics.recordCost({ model: 'm', usd: Number.NaN });
      metrics.recordTokenUsage({
        tokens: Infinity,
        tokenType: 'input',
        operation: 'chat',
        provider: 'p',
        model: 'm',
      });
      metrics.recordGuardrailDuration({ layer: 'l', outcome: 'allow', seconds: -0.1 });
      metrics.recordEvent(null as never);
    }).not.toThrow();
    expect(await reader.metric('llmsec.cost.usd')).toBeUndefined();
    expect(await reader.metric(METRIC_GEN_AI_TOKEN_USAGE)).toBeUndefined();
  });
});
