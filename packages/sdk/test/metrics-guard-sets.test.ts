import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MeterProvider, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { METRIC_GUARDRAIL_DURATION } from '@llmsec/core';
import { LlmsecMetrics } from '../src/metrics.ts';
import { TestMetricReader } from './harness.ts';

/**
 * Guard-duration records find their attribute set by layer, then by outcome (metrics.ts
 * `guardSetsByLayer`, issue 13), in front of the general attribute cache. These check the
 * series against a model of the labels: layers kept in first-seen order up to the cap (clipped
 * at 64 characters), later ones `other`; outcomes outside allow / block / modify `other`.
 */

const LAYERS = ['injection', 'pii', 'tools', 'leak', 'x'.repeat(70), 'y'.repeat(130)];
const OUTCOMES = ['allow', 'block', 'modify', 'rewrite'];

function model(records: Array<[string, string]>, maxLayers: number): Map<string, number> {
  const kept: string[] = [];
  const out = new Map<string, number>();
  for (const [layer, outcome] of records) {
    const clipped = layer.slice(0, 64);
    if (!kept.includes(clipped) && kept.length < maxLayers) kept.push(clipped);
    const label = kept.includes(clipped) ? clipped : 'other';
    const o = ['allow', 'block', 'modify'].includes(outcome) ? outcome : 'other';
    const key = `${label}|${o}`;
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

async function series(records: Array<[string, string]>, maxLayers: number): Promise<Map<string, number>> {
  const reader = new TestMetricReader();
  const provider = new MeterProvider({ readers: [reader] });
  const metrics = new LlmsecMetrics({ meter: provider.getMeter('t'), maxLayers });
  for (const [layer, outcome] of records) metrics.recordGuardrailDuration({ layer, outcome, seconds: 0.001 });
  const data = (await reader.metric(METRIC_GUARDRAIL_DURATION)) as HistogramMetricData | undefined;
  const out = new Map<string, number>();
  for (const p of data?.dataPoints ?? []) {
    const key = `${String(p.attributes.layer)}|${String(p.attributes.outcome)}`;
    out.set(key, (out.get(key) ?? 0) + p.value.count);
  }
  await provider.shutdown();
  return out;
}

describe('guard-duration attribute sets by layer and outcome', () => {
  it('label every record as the model does, however layers and outcomes interleave', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...LAYERS), fc.constantFrom(...OUTCOMES)), { maxLength: 60 }),
        fc.integer({ min: 1, max: 5 }),
        async (records, maxLayers) => {
          expect(await series(records, maxLayers)).toEqual(model(records, maxLayers));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a call’s six records, repeated, keep one series per layer and outcome', async () => {
    const call: Array<[string, string]> = [
      ['prompt_injection', 'allow'],
      ['pii', 'allow'],
      ['tool_allowlist', 'allow'],
      ['pii', 'allow'],
      ['system_prompt_leakage', 'block'],
      ['tool_allowlist', 'modify'],
    ];
    const records = Array.from({ length: 5 }, () => call).flat();
    expect(await series(records, 50)).toEqual(
      new Map([
        ['prompt_injection|allow', 5],
        ['pii|allow', 10],
        ['tool_allowlist|allow', 5],
        ['system_prompt_leakage|block', 5],
        ['tool_allowlist|modify', 5],
      ]),
    );
  });
});
