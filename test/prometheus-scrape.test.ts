import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GEN_AI_DURATION_BUCKETS, GEN_AI_TOKEN_BUCKETS } from '@llmsec/core';
import { setupLlmsec, withSecurityContext, type LlmsecSetup } from '@llmsec/sdk';
import { requireBinary } from './support/binaries.ts';
import { getFreePort } from './support/ports.ts';
import { startPrometheus, type PrometheusHandle, type PromSeries } from './support/prometheus.ts';

/**
 * The Prometheus endpoint, scraped over HTTP: on its own port, mounted on the application's
 * server, and by a real Prometheus. Users and sessions are on every event, and must be on no
 * series.
 */

let llmsec: LlmsecSetup;
let ownPort: number;
let appServer: Server;
let appPort: number;
let prometheus: PrometheusHandle | undefined;
const USERS = ['alice@example.com', 'bob', 'mallory'];

function recordTraffic(): void {
  const { events, metrics } = llmsec;
  for (const user of USERS) {
    withSecurityContext({ userId: user, sessionId: `session-of-${user}` }, () =>
      trace.getTracer('app').startActiveSpan('chat', (span) => {
        events.guardrailBlock({ layer: 'injection', reason: 'jailbreak', requestText: `please ${user}` });
        events.outputFilterBlock({ filter: 'secrets', reason: 'key' });
        events.rateLimitHit({ limitType: 'rpm', current: 61, limit: 60 });
        events.requestCompleted({
          model: 'gpt-4o-mini',
          promptTokens: 100,
          completionTokens: 20,
          latencyMs: 900,
          costUsd: 0.01,
          blocked: false,
        });
        metrics.recordTokenUsage({
          tokens: 100,
          tokenType: 'input',
          operation: 'chat',
          provider: 'openai',
          model: 'gpt-4o-mini',
        });
        metrics.recordTokenUsage({
          tokens: 20,
          tokenType: 'output',
          operation: 'chat',
          provider: 'openai',
          model: 'gpt-4o-mini',
        });
        metrics.recordOperationDuration({
          seconds: 0.9,
          operation: 'chat',
          provider: 'openai',
          model: 'gpt-4o-mini',
        });
        metrics.recordGuardrailDuration({ layer: 'injection', outcome: 'block', seconds: 0.0003 });
        span.end();
      }),
    );
  }
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return await res.text();
}

/** Sample lines as {name, labels}: the exposition format parsed just enough to check labels. */
function samples(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(m, `unparsable line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const l of (m![2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!;
    out.push({ name: m![1]!, labels, value: Number(m![3]) });
  }
  return out;
}

beforeAll(async () => {
  ownPort = await getFreePort();
  llmsec = setupLlmsec({ serviceName: 'scrape-test', otlp: false, prometheus: { port: ownPort } });
  await llmsec.prometheus!.startServer();
  appServer = createServer((req, res) => {
    if (req.url === '/metrics') llmsec.metricsHandler!(req, res);
    else res.end('app');
  });
  await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
  appPort = (appServer.address() as AddressInfo).port;
  recordTraffic();
});

afterAll(async () => {
  await prometheus?.stop();
  await new Promise((r) => appServer.close(r));
  await llmsec.shutdown();
});

describe('Prometheus endpoint', () => {
  it('serves the expected names and labels on its own port, bound to loopback', async () => {
    const text = await scrape(`http://127.0.0.1:${ownPort}/metrics`);
    const all = samples(text);
    const find = (name: string, labels: Record<string, string>) =>
      all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

    expect(
      find('llmsec_events_total', { category: 'guardrail_block', severity: 'warning', layer: 'injection' })[0]
        ?.value,
    ).toBe(3);
    expect(
      find('llmsec_events_total', { category: 'output_filter_block', severity: 'alert', layer: 'secrets' })[0]
        ?.value,
    ).toBe(3);
    expect(find('llmsec_events_total', { category: 'rate_limit_hit', severity: 'warning' })[0]?.value).toBe(
      3,
    );
    expect(find('llmsec_events_total', { category: 'request_completed', severity: 'info' })[0]?.value).toBe(
      3,
    );
    expect(find('llmsec_requests_total', { outcome: 'allowed', model: 'gpt-4o-mini' })[0]?.value).toBe(3);
    expect(find('llmsec_cost_usd_total', { model: 'gpt-4o-mini' })[0]?.value).toBeCloseTo(0.03);
    expect(find('llmsec_guardrail_duration_count', { layer: 'injection', outcome: 'block' })[0]?.value).toBe(
      3,
    );

    const tokenBuckets = find('gen_ai_client_token_usage_bucket', {
      gen_ai_token_type: 'input',
      gen_ai_request_model: 'gpt-4o-mini',
    });
    expect(tokenBuckets.map((s) => s.labels.le)).toEqual([...GEN_AI_TOKEN_BUCKETS.map(String), '+Inf']);
    expect(tokenBuckets.find((s) => s.labels.le === '256')?.value).toBe(3);
    expect(tokenBuckets.find((s) => s.labels.le === '64')?.value).toBe(0);
    const durationBuckets = find('gen_ai_client_operation_duration_bucket', {
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'openai',
    });
    expect(durationBuckets.map((s) => s.labels.le)).toEqual([...GEN_AI_DURATION_BUCKETS.map(String), '+Inf']);
    expect(find('gen_ai_client_operation_duration_sum', {})[0]?.value).toBeCloseTo(2.7);

    // No user or session anywhere: no such label name, and no user id or session as a value.
    const labelNames = new Set(all.flatMap((s) => Object.keys(s.labels)));
    for (const name of labelNames) expect(name).not.toMatch(/user|session|conversation|prompt/i);
    for (const user of USERS) expect(text).not.toContain(user);
    expect(text).not.toContain('session-of-');
    expect(text).not.toContain('please');

    // Loopback by default: the exporter's own server is not on every interface.
    expect(llmsec.prometheus!['_host' as keyof object]).toBe('127.0.0.1');
  });

  it('serves the same text mounted on the application server, and promtool accepts it', async () => {
    const mounted = await scrape(`http://127.0.0.1:${appPort}/metrics`);
    expect(mounted).toContain(
      'llmsec_events_total{category="guardrail_block",severity="warning",layer="injection"',
    );
    const check = spawnSync(requireBinary('promtool'), ['check', 'metrics'], {
      input: mounted,
      encoding: 'utf8',
    });
    // promtool exits non-zero on a parse error or a lint finding (checked: it rejects garbage).
    expect(check.error).toBeUndefined();
    expect({ status: check.status, stdout: check.stdout, stderr: check.stderr }).toEqual({
      status: 0,
      stdout: '',
      stderr: '',
    });
  });

  it('a real Prometheus scrapes it: events by category, and no user label in any series', async () => {
    prometheus = await startPrometheus({ scrapeTargets: [`127.0.0.1:${ownPort}`] });
    const result = await prometheus.waitForData('sum by (category) (llmsec_events_total)');
    const byCategory = Object.fromEntries(
      (result.result as PromSeries[]).map((s) => [s.metric.category, Number(s.value![1])]),
    );
    expect(byCategory).toEqual({
      guardrail_block: 3,
      output_filter_block: 3,
      rate_limit_hit: 3,
      request_completed: 3,
    });
    const series = (await prometheus.api(
      '/api/v1/series?match[]={__name__=~"llmsec_.*|gen_ai_.*"}',
    )) as Array<Record<string, string>>;
    expect(series.length).toBeGreaterThan(10);
    for (const s of series) for (const key of Object.keys(s)) expect(key).not.toMatch(/user|session/i);
  });
});
