// requestCompleted's `outcome` is one of allowed, blocked, rate_limited, error (docs/formats.md);
// without it, `blocked` decides (README: "metadata `outcome` if it is allowed|blocked|
// rate_limited|error, otherwise from `blocked`"). requestCompleted wrote an untyped caller's
// other value ('weird', 42, 'BLOCKED') into the event as given (a number where the format has
// one of four words) and counted it as llmsec_requests_total{outcome="other"}, not by
// `blocked`. Found by the acceptance sweep with the installed packages. `emit` writes metadata
// as given, so its other values still count as `other` (events-telemetry-golden pins it).
import { describe, expect, it } from 'vitest';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { ManualClock, METRIC_REQUESTS, createIdGenerator, seededRandom } from '@llmsec/core';
import { LlmsecMetrics } from '../src/metrics.ts';
import { SecurityEvents } from '../src/security-events.ts';
import { TestMetricReader } from './harness.ts';

function setup() {
  const reader = new TestMetricReader();
  const provider = new MeterProvider({ readers: [reader] });
  const events = new SecurityEvents({
    serviceName: 'svc',
    clock: new ManualClock(Date.parse('2026-12-07T10:00:00.000Z')),
    ids: createIdGenerator(seededRandom(11)),
    fingerprintKey: 'k'.repeat(32),
    metrics: new LlmsecMetrics({ meter: provider.getMeter('t') }),
  });
  const requests = async () =>
    (await reader.metric(METRIC_REQUESTS))!.dataPoints.map((p) => [p.attributes.outcome, p.value]);
  return { events, requests };
}

const call = {
  userId: 'u',
  model: 'gpt-4o-mini',
  promptTokens: 1,
  completionTokens: 1,
  latencyMs: 1,
  costUsd: 0,
};

describe('request_completed outcome', () => {
  it('leaves an outcome that is none of the four out of the event and counts the request by blocked', async () => {
    const { events, requests } = setup();
    const bad: unknown[] = ['weird', 42, 'BLOCKED', '', null, { x: 1 }];
    for (const [i, outcome] of bad.entries()) {
      const e = events.requestCompleted({ ...call, blocked: i % 2 === 1, outcome: outcome as 'error' });
      expect(e.metadata).not.toHaveProperty('outcome');
      expect(e.metadata?.blocked).toBe(i % 2 === 1);
    }
    expect(await requests()).toEqual([
      ['allowed', 3],
      ['blocked', 3],
    ]);
  });

  it('keeps each of the four, which wins over blocked', async () => {
    const { events, requests } = setup();
    for (const outcome of ['allowed', 'blocked', 'rate_limited', 'error'] as const) {
      const e = events.requestCompleted({ ...call, blocked: false, outcome });
      expect(e.metadata?.outcome).toBe(outcome);
    }
    expect(await requests()).toEqual([
      ['allowed', 1],
      ['blocked', 1],
      ['rate_limited', 1],
      ['error', 1],
    ]);
  });

  it('counts an emitted request_completed (metadata as given) with another outcome as other', async () => {
    const { events, requests } = setup();
    const metadata = {
      model: 'gpt-4o-mini',
      prompt_tokens: 1,
      completion_tokens: 1,
      latency_ms: 1,
      cost_usd: 0,
      prompt_length: 1,
    };
    events.emit('request_completed', {
      userId: 'u',
      metadata: { ...metadata, blocked: true, outcome: 'nope' },
    });
    events.emit('request_completed', {
      userId: 'u',
      metadata: { ...metadata, blocked: false, outcome: 'rate_limited' },
    });
    expect(await requests()).toEqual([
      ['other', 1],
      ['rate_limited', 1],
    ]);
  });
});
