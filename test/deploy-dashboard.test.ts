import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import {
  GEN_AI_DURATION_BUCKETS,
  GEN_AI_TOKEN_BUCKETS,
  GUARDRAIL_DURATION_BUCKETS,
  METRIC_ALERT_NOTIFICATIONS,
  METRIC_ALERTS,
  METRIC_COST,
  METRIC_DETECT_DROPPED,
  METRIC_DETECT_INCIDENTS_REFUSED,
  METRIC_ENFORCEMENT_TRANSITIONS,
  METRIC_EVENTS,
  METRIC_GEN_AI_OPERATION_DURATION,
  METRIC_GEN_AI_TOKEN_USAGE,
  METRIC_GUARDRAIL_DURATION,
  METRIC_RATELIMIT_DECISIONS,
  METRIC_RATELIMIT_ENFORCED_DROPPED,
  METRIC_RATELIMIT_STORE_ERRORS,
  METRIC_REQUESTS,
  METRIC_TELEMETRY_ERRORS,
} from '@llmsec/core';
import {
  dashboardQueries,
  loadDashboard,
  queriesWithoutData,
  substituteVariables,
} from './support/dashboard.ts';
import {
  finiteValues,
  PromQueryError,
  startPrometheus,
  type PrometheusHandle,
} from './support/prometheus.ts';

/**
 * Every PromQL query of the Grafana dashboard, run through a real Prometheus's HTTP API against
 * metrics produced by the real OTel SDK and Prometheus exporter under llmsec's instrument names,
 * must return data. A small metrics source stands in for the chat API here; the end-to-end demo
 * test runs the same queries against the real one.
 */

/** Records a little of everything the dashboard shows, with label values the SDK would use. */
function startMetricsSource(): { exporter: PrometheusExporter; provider: MeterProvider; tick: () => void } {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [exporter] });
  const meter = provider.getMeter('@llmsec/sdk');
  const events = meter.createCounter(METRIC_EVENTS);
  const requests = meter.createCounter(METRIC_REQUESTS);
  const cost = meter.createCounter(METRIC_COST, { unit: 'USD' });
  const guardDuration = meter.createHistogram(METRIC_GUARDRAIL_DURATION, {
    unit: 's',
    advice: { explicitBucketBoundaries: GUARDRAIL_DURATION_BUCKETS },
  });
  const tokens = meter.createHistogram(METRIC_GEN_AI_TOKEN_USAGE, {
    unit: '{token}',
    advice: { explicitBucketBoundaries: GEN_AI_TOKEN_BUCKETS },
  });
  const opDuration = meter.createHistogram(METRIC_GEN_AI_OPERATION_DURATION, {
    unit: 's',
    advice: { explicitBucketBoundaries: GEN_AI_DURATION_BUCKETS },
  });
  const telemetryErrors = meter.createCounter(METRIC_TELEMETRY_ERRORS);
  const alerts = meter.createCounter(METRIC_ALERTS);
  const dropped = meter.createCounter(METRIC_DETECT_DROPPED);
  const refused = meter.createCounter(METRIC_DETECT_INCIDENTS_REFUSED);
  const notifications = meter.createCounter(METRIC_ALERT_NOTIFICATIONS);
  const decisions = meter.createCounter(METRIC_RATELIMIT_DECISIONS);
  const storeErrors = meter.createCounter(METRIC_RATELIMIT_STORE_ERRORS);
  const transitions = meter.createCounter(METRIC_ENFORCEMENT_TRANSITIONS);
  let enforcedDropped = 0;
  meter
    .createObservableCounter(METRIC_RATELIMIT_ENFORCED_DROPPED)
    .addCallback((r) => r.observe(enforcedDropped, { store: 'primary' }));

  let n = 0;
  const tick = (): void => {
    n++;
    const model = n % 2 === 0 ? 'gpt-4o-mini' : 'claude-sonnet-4';
    const genAi = {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': model.startsWith('gpt') ? 'openai' : 'anthropic',
      'gen_ai.request.model': model,
    };
    requests.add(5, { outcome: 'allowed', model });
    requests.add(2, { outcome: 'blocked', model });
    requests.add(1, { outcome: 'rate_limited', model });
    requests.add(1, { outcome: 'error', model });
    events.add(2, { category: 'guardrail_block', severity: 'warning', layer: 'prompt_injection' });
    events.add(1, { category: 'output_filter_block', severity: 'alert', layer: 'secret_filter' });
    events.add(5, { category: 'request_completed', severity: 'info' });
    cost.add(0.0125, { model });
    guardDuration.record(0.0002 * (1 + (n % 5)), { layer: 'prompt_injection', outcome: 'block' });
    guardDuration.record(0.00005, { layer: 'pii', outcome: 'allow' });
    tokens.record(200 + (n % 7) * 50, { ...genAi, 'gen_ai.token.type': 'input' });
    tokens.record(80 + (n % 3) * 20, { ...genAi, 'gen_ai.token.type': 'output' });
    opDuration.record(0.3 + (n % 4) * 0.2, genAi);
    opDuration.record(0.05, { ...genAi, 'error.type': 'RateLimitError' });
    telemetryErrors.add(1, { component: 'log_exporter', error_type: 'ECONNREFUSED' });
    alerts.add(1, { rule: 'rapid_guardrail_blocks', severity: 'warning', status: 'firing' });
    alerts.add(1, { rule: 'system_prompt_leakage', severity: 'critical', status: 'firing' });
    alerts.add(1, { rule: 'rapid_guardrail_blocks', severity: 'warning', status: 'resolved' });
    dropped.add(1, { reason: 'late' });
    refused.add(n % 4 === 0 ? 1 : 0, { rule: 'rapid_guardrail_blocks' });
    notifications.add(2, { sink: 'alertmanager', outcome: 'sent' });
    notifications.add(1, { sink: 'alertmanager', outcome: 'failed' });
    decisions.add(6, { dimension: 'none', outcome: 'allowed' });
    decisions.add(1, { dimension: 'rpm', outcome: 'refused' });
    decisions.add(1, { dimension: 'cost_hour', outcome: 'refused' });
    decisions.add(1, { dimension: 'rpm', outcome: 'fallback' });
    storeErrors.add(1, { error_type: 'ECONNREFUSED' });
    transitions.add(1, { level: n % 2 === 0 ? 'throttled' : 'warning' });
    enforcedDropped += n % 3 === 0 ? 1 : 0;
  };
  return { exporter, provider, tick };
}

describe('Grafana dashboard queries against a real Prometheus', () => {
  let server: Server;
  let provider: MeterProvider;
  let timer: NodeJS.Timeout;
  let prom: PrometheusHandle;

  beforeAll(async () => {
    const source = startMetricsSource();
    provider = source.provider;
    source.tick();
    timer = setInterval(source.tick, 200);
    server = createServer((req, res) => source.exporter.getMetricsRequestHandler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    prom = await startPrometheus({
      scrapeTargets: [`127.0.0.1:${port}`],
      scrapeIntervalSec: 1,
      ruleFiles: [fileURLToPath(new URL('../deploy/prometheus/rules/llmsec.rules.yml', import.meta.url))],
    });
  });

  afterAll(async () => {
    clearInterval(timer);
    await prom?.stop();
    await new Promise((resolve) => server?.close(resolve));
    await provider?.shutdown();
  });

  const queries = dashboardQueries(loadDashboard());

  it('finds the panels the issue asks for', () => {
    const titles = new Set(queries.map((q) => q.panel));
    for (const title of [
      'Requests by outcome',
      'Guardrail blocks by layer',
      'Output-filter blocks by filter',
      'Alerts by rule and severity',
      'Rate-limit refusals by dimension',
      'Enforcement level transitions',
      'Token usage by type',
      'LLM latency percentiles',
      'Cost burn rate by model',
    ]) {
      expect(titles, title).toContain(title);
    }
  });

  it.each(queries.map((q) => [`${q.panel} [${q.refId}]`, q] as const))(
    '%s returns data',
    async (_name, q) => {
      const promql = substituteVariables(q.expr);
      const result = await prom.waitForData(promql, { timeoutMs: 20_000 });
      expect(result.resultType).toBe('vector');
      expect(finiteValues(result).length).toBeGreaterThan(0);
    },
  );

  it('breaks series out by the labels the panels group by', async () => {
    const byOutcome = await prom.waitForData(
      substituteVariables(queries.find((q) => q.panel === 'Requests by outcome')!.expr),
    );
    const outcomes = (byOutcome.result as Array<{ metric: Record<string, string> }>)
      .map((s) => s.metric.outcome)
      .sort();
    expect(outcomes).toEqual(['allowed', 'blocked', 'error', 'rate_limited']);
    const byLayer = await prom.waitForData(
      substituteVariables(queries.find((q) => q.panel === 'Guardrail blocks by layer')!.expr),
    );
    expect((byLayer.result as Array<{ metric: Record<string, string> }>).map((s) => s.metric.layer)).toEqual([
      'prompt_injection',
    ]);
  });

  it('filters by the model variable', async () => {
    const expr = queries.find((q) => q.panel === 'Cost burn rate by model')!.expr;
    const one = await prom.waitForData(substituteVariables(expr, { vars: { model: 'gpt-4o-mini' } }));
    expect((one.result as Array<{ metric: Record<string, string> }>).map((s) => s.metric.model)).toEqual([
      'gpt-4o-mini',
    ]);
    const none = await prom.query(substituteVariables(expr, { vars: { model: 'no-such-model' } }));
    expect(none.result).toEqual([]);
  });

  it('lists exactly the queries without data (here: those filtered to a model that does not exist)', async () => {
    const missing = await queriesWithoutData(prom, {
      queries,
      substitutions: { vars: { model: 'no-such-model' } },
      timeoutMs: 3_000,
    });
    const expected = queries.filter((q) => q.expr.includes('$model'));
    expect(expected.length).toBeGreaterThan(5);
    expect(missing.map((m) => m.query)).toEqual(expected);
    expect(missing[0]!.promql).toContain('no-such-model');
  });

  it('rejects malformed PromQL, so a broken panel query cannot pass', async () => {
    await expect(prom.query('sum(rate(llmsec_requests_total[10s])')).rejects.toBeInstanceOf(PromQueryError);
    await expect(
      prom.waitForData('sum by (outcome (llmsec_requests_total)', { timeoutMs: 1_000 }),
    ).rejects.toThrow(/bad_data/);
  });

  it('loads the alert and recording rules and evaluates them on these series', async () => {
    const recorded = await prom.waitForData('llmsec:cost_usd_per_hour:rate5m');
    expect(
      (recorded.result as Array<{ metric: Record<string, string> }>).map((s) => s.metric.model).sort(),
    ).toEqual(['claude-sonnet-4', 'gpt-4o-mini']);
    const ratio = await prom.waitForData('llmsec:block_ratio:ratio_rate10m');
    // 2 of every 9 requests are blocked by the source above.
    expect(finiteValues(ratio)[0]).toBeCloseTo(2 / 9, 2);
    const data = (await prom.api('/api/v1/rules')) as {
      groups: Array<{
        name: string;
        rules: Array<{ name: string; health: string; type: string; lastError?: string }>;
      }>;
    };
    const rules = data.groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules)
      expect(`${rule.name}: ${rule.health} ${rule.lastError ?? ''}`).toBe(`${rule.name}: ok `);
  });

  it('runs the dashboard annotation query', async () => {
    const dashboard = loadDashboard() as unknown as { annotations: { list: Array<{ expr?: string }> } };
    const exprs = dashboard.annotations.list
      .map((a) => a.expr)
      .filter((e): e is string => typeof e === 'string');
    expect(exprs.length).toBeGreaterThan(0);
    // ALERTS only has series while an alert is pending or firing: the query must parse and run.
    for (const expr of exprs) await expect(prom.query(expr)).resolves.toMatchObject({ resultType: 'vector' });
  });
});
