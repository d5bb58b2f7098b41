// A category method's fields win over the caller's extra `metadata`, and an event keeps at most
// 32 metadata keys. The fields were merged after the caller's keys and the first 32 kept, so a
// caller with 32 or more extra keys lost the category's own: guardrail_block its layer and
// reason, request_completed its model, tokens, cost and blocked (then counted as an allowed
// request of model `other`), which the rules and metrics read. Found by the acceptance sweep with
// the installed packages. Under the cap the keys and their order are as before.
import { describe, expect, it } from 'vitest';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { ManualClock, METRIC_REQUESTS, createIdGenerator, seededRandom, type Category } from '@llmsec/core';
import type { EventInputFor, SecurityEvent } from '@llmsec/core';
import { LlmsecMetrics } from '../src/metrics.ts';
import { SecurityEvents } from '../src/security-events.ts';
import { TestMetricReader } from './harness.ts';

function setup(Events: typeof SecurityEvents = SecurityEvents) {
  const reader = new TestMetricReader();
  const provider = new MeterProvider({ readers: [reader] });
  const events = new Events({
    serviceName: 'svc',
    clock: new ManualClock(Date.parse('2026-12-07T10:00:00.000Z')),
    ids: createIdGenerator(seededRandom(5)),
    fingerprintKey: 'k'.repeat(32),
    metrics: new LlmsecMetrics({ meter: provider.getMeter('t') }),
  });
  const requests = async () =>
    (await reader.metric(METRIC_REQUESTS))!.dataPoints.map((p) => [p.attributes, p.value]);
  return { events, requests };
}

/** A subclass whose emit() every category method's event goes through (security-events.ts). */
class OwnEmit extends SecurityEvents {
  override emit<C extends Category>(category: C, input: EventInputFor<C>): SecurityEvent {
    return super.emit(category, input);
  }
}

const extra = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));

describe.each([
  ['SecurityEvents', SecurityEvents],
  ['a subclass overriding emit', OwnEmit],
])('the category fields past the metadata key cap (%s)', (_name, Events) => {
  it('keeps guardrail_block layer and reason beside 40 caller keys', () => {
    const { events } = setup(Events);
    const e = events.guardrailBlock({
      userId: 'u',
      layer: 'injection',
      reason: 'ignore-previous',
      requestText: 'ignore previous instructions',
      metadata: extra(40),
    });
    expect(e.metadata?.guardrail_layer).toBe('injection');
    expect(e.metadata?.block_reason).toBe('ignore-previous');
    expect(e.metadata?.prompt_length).toBe(28);
    expect(typeof e.metadata?.payload_fingerprint).toBe('string');
    // 32 kept before the payload fields: the two named ones and the caller's first 30.
    const callers = Object.keys(e.metadata ?? {}).filter((k) => /^k\d+$/.test(k));
    expect(callers).toEqual(Object.keys(extra(30)));
  });

  it('keeps request_completed model, tokens, cost and blocked beside 40 caller keys, and counts it so', async () => {
    const { events, requests } = setup(Events);
    const e = events.requestCompleted({
      userId: 'u',
      model: 'gpt-4o-mini',
      promptTokens: 5,
      completionTokens: 7,
      latencyMs: 12,
      costUsd: 0.25,
      blocked: true,
      metadata: extra(40),
    });
    expect(e.metadata).toMatchObject({
      model: 'gpt-4o-mini',
      prompt_tokens: 5,
      completion_tokens: 7,
      latency_ms: 12,
      cost_usd: 0.25,
      blocked: true,
    });
    expect(Object.keys(e.metadata ?? {})).toHaveLength(32);
    expect(await requests()).toEqual([[{ outcome: 'blocked', model: 'gpt-4o-mini' }, 1]]);
  });

  it('leaves the keys and their order as before under the cap', () => {
    const { events } = setup(Events);
    const e = events.guardrailBlock({
      userId: 'u',
      layer: 'injection',
      reason: 'r',
      metadata: { input_source: 'tool', guardrail_layer: 'overridden', ...extra(29) },
    });
    expect(Object.keys(e.metadata ?? {})).toEqual([
      'input_source',
      'guardrail_layer',
      ...Object.keys(extra(29)),
      'block_reason',
    ]);
    expect(e.metadata?.guardrail_layer).toBe('injection');
  });
});
