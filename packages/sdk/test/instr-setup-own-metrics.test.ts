import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MeterProvider, type MetricReader } from '@opentelemetry/sdk-metrics';
import {
  METRIC_COST,
  METRIC_GEN_AI_OPERATION_DURATION,
  METRIC_GEN_AI_TOKEN_USAGE,
  METRIC_REQUESTS,
  type SecurityEvent,
} from '@llmsec/core';
import { setupLlmsec, type LlmsecSetup } from '../src/setup.ts';
import { instrumentClient, LlmClientInstrumentation } from '../src/instrumentation/index.ts';
import { PullReader } from './fixtures/instr-harness.ts';
import { startFakeLlm, type FakeLlm } from '../../../examples/fake-llm/server.ts';

/**
 * Since instrumentClient without `events` records through the running setupLlmsec (52700d2), a
 * client's own `prices` and `meterProvider` must still label and route its metrics: the setup's
 * SecurityEvents know only the default price table (llmsec_requests_total, llmsec_cost_usd_total
 * and the GenAI metrics said model="other" for a priced 'acme-1') and record on the setup's
 * provider (a client with its own meterProvider had its metrics split across two). Its events
 * still reach the setup's sinks (onEvent here).
 */

const PRICES = { 'acme-1': { inputPerMTokUsd: 1, outputPerMTokUsd: 2 } };
const LLMSEC_AND_GENAI = [
  METRIC_REQUESTS,
  METRIC_COST,
  METRIC_GEN_AI_TOKEN_USAGE,
  METRIC_GEN_AI_OPERATION_DURATION,
];

let fake: FakeLlm;
beforeAll(async () => {
  fake = await startFakeLlm();
});
afterAll(async () => {
  await fake.close();
});

let setup: LlmsecSetup | undefined;
const seen: SecurityEvent[] = [];
afterEach(async () => {
  await setup?.shutdown();
  setup = undefined;
  seen.length = 0;
});

function start(): LlmsecSetup {
  setup = setupLlmsec({
    serviceName: 'own-metrics',
    onEvent: (e) => seen.push(e),
    otlp: false,
    prometheus: { preventServerStart: true },
  });
  return setup;
}

/** Metric name -> the `model` / `gen_ai.request.model` labels of its points, in one collection of `reader`. */
async function modelLabels(reader: MetricReader): Promise<Record<string, string[]>> {
  const { resourceMetrics } = await reader.collect();
  const out: Record<string, string[]> = {};
  for (const m of resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)) {
    if (!LLMSEC_AND_GENAI.includes(m.descriptor.name)) continue;
    const labels = m.dataPoints.map((p) =>
      String(p.attributes.model ?? p.attributes['gen_ai.request.model']),
    );
    (out[m.descriptor.name] ??= []).push(...labels);
  }
  for (const k of Object.keys(out)) out[k] = [...new Set(out[k])].sort();
  return out;
}

const ask = (client: OpenAI) =>
  client.chat.completions.create({ model: 'acme-1', messages: [{ role: 'user', content: 'hi' }] });

const newClient = () => new OpenAI({ apiKey: 'x', baseURL: fake.openaiBaseURL, maxRetries: 0 });

describe('instrumentClient with its own prices / meterProvider after setupLlmsec', () => {
  it("prices: every llmsec and GenAI metric on the setup's provider says model=acme-1; events reach the setup", async () => {
    const s = start();
    const client = instrumentClient(newClient(), { prices: PRICES });
    await ask(client);
    expect(seen.map((e) => [e.category, e.service, e.metadata?.model])).toEqual([
      ['request_completed', 'own-metrics', 'acme-1'],
    ]);
    expect(typeof seen[0]?.metadata?.cost_usd).toBe('number');
    const labels = await modelLabels(s.prometheus as unknown as MetricReader);
    expect(labels).toEqual(Object.fromEntries(LLMSEC_AND_GENAI.map((n) => [n, ['acme-1']])));
  });

  it("meterProvider: all of the client's metrics on its provider (none on the setup's); events reach the setup", async () => {
    const s = start();
    const reader = new PullReader();
    const own = new MeterProvider({ readers: [reader] });
    try {
      const client = instrumentClient(newClient(), { prices: PRICES, meterProvider: own });
      await ask(client);
      expect(seen.map((e) => [e.category, e.service])).toEqual([['request_completed', 'own-metrics']]);
      expect(await modelLabels(reader)).toEqual(
        Object.fromEntries(LLMSEC_AND_GENAI.map((n) => [n, ['acme-1']])),
      );
      expect(await modelLabels(s.prometheus as unknown as MetricReader)).toEqual({});
    } finally {
      await own.shutdown();
    }
  });

  it('without prices or meterProvider the setup labels and records as before (gpt-4o-mini, its provider)', async () => {
    const s = start();
    const client = instrumentClient(newClient());
    await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(seen.map((e) => e.category)).toEqual(['request_completed']);
    expect(await modelLabels(s.prometheus as unknown as MetricReader)).toEqual(
      Object.fromEntries(LLMSEC_AND_GENAI.map((n) => [n, ['gpt-4o-mini']])),
    );
  });

  it('a client instrumented and called before the setup follows the setup once it runs (prices kept)', async () => {
    const client = instrumentClient(newClient(), { prices: PRICES });
    await ask(client);
    const s = start();
    await ask(client);
    expect(seen.map((e) => e.category)).toEqual(['request_completed']);
    expect(await modelLabels(s.prometheus as unknown as MetricReader)).toEqual(
      Object.fromEntries(LLMSEC_AND_GENAI.map((n) => [n, ['acme-1']])),
    );
  });

  it('LlmClientInstrumentation({ prices }): its metrics (made by _updateMetricInstruments) label models by its prices, also after setConfig', async () => {
    const reader = new PullReader();
    const own = new MeterProvider({ readers: [reader] });
    const instrumentation = new LlmClientInstrumentation({ prices: PRICES });
    try {
      instrumentation.setMeterProvider(own);
      const client = instrumentation.instrumentClient(newClient());
      await ask(client);
      expect(await modelLabels(reader)).toEqual(
        Object.fromEntries(LLMSEC_AND_GENAI.map((n) => [n, ['acme-1']])),
      );
      // New prices: the metrics are made again with them (acme-1 no longer priced: other).
      instrumentation.setConfig({ prices: { 'acme-2': { inputPerMTokUsd: 1, outputPerMTokUsd: 2 } } });
      await client.chat.completions.create({ model: 'acme-2', messages: [{ role: 'user', content: 'hi' }] });
      await ask(client);
      const labels = await modelLabels(reader);
      expect(labels[METRIC_REQUESTS]).toEqual(['acme-1', 'acme-2', 'other']);
    } finally {
      instrumentation.disable();
      await own.shutdown();
    }
  });

  it("setupLlmsec({ instrumentations: [LlmClientInstrumentation({ prices })] }): every llmsec and GenAI metric on the setup's provider says model=acme-1; events reach the setup", async () => {
    const instrumentation = new LlmClientInstrumentation({ prices: PRICES });
    try {
      setup = setupLlmsec({
        serviceName: 'own-metrics',
        onEvent: (e) => seen.push(e),
        otlp: false,
        prometheus: { preventServerStart: true },
        instrumentations: [instrumentation],
      });
      await ask(instrumentation.instrumentClient(newClient()));
      expect(seen.map((e) => [e.category, e.service, e.metadata?.model])).toEqual([
        ['request_completed', 'own-metrics', 'acme-1'],
      ]);
      expect(await modelLabels(setup.prometheus as unknown as MetricReader)).toEqual(
        Object.fromEntries(LLMSEC_AND_GENAI.map((n) => [n, ['acme-1']])),
      );
    } finally {
      instrumentation.disable();
    }
  });

  it('two clients with different prices and one with its own meterProvider, at once, then a re-setup: labels kept, events go to the running setup', async () => {
    const a = instrumentClient(newClient(), { prices: PRICES });
    const b = instrumentClient(newClient(), {
      prices: { 'acme-2': { inputPerMTokUsd: 1, outputPerMTokUsd: 2 } },
    });
    const ownProvider = new MeterProvider({ readers: [new PullReader()] });
    // Its metrics stay the same object across the setups: only the setup decides where its events go.
    const c = instrumentClient(newClient(), { meterProvider: ownProvider });
    const askB = () =>
      b.chat.completions.create({ model: 'acme-2', messages: [{ role: 'user', content: 'hi' }] });
    const first = start();
    await Promise.all([ask(a), askB(), ask(a), ask(c)]);
    expect((await modelLabels(first.prometheus as unknown as MetricReader))[METRIC_REQUESTS]).toEqual([
      'acme-1',
      'acme-2',
    ]);
    await first.shutdown();
    seen.length = 0;
    const second = (setup = setupLlmsec({
      serviceName: 'second',
      onEvent: (e) => seen.push(e),
      otlp: false,
      prometheus: { preventServerStart: true },
    }));
    await Promise.all([askB(), ask(a), ask(c)]);
    await ownProvider.shutdown();
    expect(seen.map((e) => `${e.service} ${String(e.metadata?.model)}`).sort()).toEqual([
      'second acme-1',
      'second acme-1',
      'second acme-2',
    ]);
    expect(await modelLabels(second.prometheus as unknown as MetricReader)).toEqual(
      Object.fromEntries(LLMSEC_AND_GENAI.map((n) => [n, ['acme-1', 'acme-2']])),
    );
  });
});
