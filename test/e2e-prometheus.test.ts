import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '@llmsec/core';
import { startChatApi, type ChatApi } from '../examples/chat-api/app.ts';
import { demoUpstreamScript } from '../examples/chat-api/upstream-script.ts';
import { startFakeLlm, type FakeLlm } from '../examples/fake-llm/server.ts';
import { drive, type PersonaStats } from '../examples/simulator/driver.ts';
import { buildPersonas, type Persona } from '../examples/simulator/personas.ts';
import { BENIGN_PROMPTS } from '../examples/simulator/prompts.ts';
import { startAlertmanager, type AlertmanagerHandle } from './support/alertmanager.ts';
import {
  dashboardQueries,
  loadDashboard,
  queriesWithoutData,
  substituteVariables,
  type MissingData,
} from './support/dashboard.ts';
import {
  finiteValues,
  startPrometheus,
  type PrometheusHandle,
  type PromSeries,
} from './support/prometheus.ts';
import { waitUntil } from './support/ports.ts';
import { startRedis, type RedisHandle } from './support/redis.ts';

/**
 * The end-to-end check: the example chat API (in-process, /metrics on its own server)
 * and a short seeded simulator run, scraped every second by a real Prometheus; then every
 * PromQL query of the Grafana dashboard, sent through Prometheus's HTTP API, must return data.
 *
 * Some panels show failures. A healthy run has none, so the run injects each one deliberately,
 * the way it happens in production:
 * - the limiter's Redis (a real redis-server) is killed after the simulator: store errors and
 *   fail-open `fallback` decisions (Limiter store health);
 * - the OTLP endpoint is a collector that rejects every export (Telemetry errors);
 * - a few prompts carry the fake upstream's `[[500]]` marker (LLM call errors by type).
 * Alerts go to a real Alertmanager (Alert notifications by sink and outcome).
 *
 * Allowed to stay empty, with the reason (ALLOWED_EMPTY below): only panels whose metric
 * cannot be produced by HTTP traffic at all.
 */

const SIM_DURATION_MS = 9_000;
const SEED = 7;
/**
 * A bound on a hang for each request of the simulator and of this test, not a latency
 * expectation. The chat API, its detection engine, the fake LLM and the simulator share this
 * test's one event loop: at load 11-12 on 2 shared cores, answers took up to 14.5 s in a passing
 * run, and over 30 s in a failing one, where all 13 errors were the simulator's own 30 s abort
 * (status 0; no 502 and no other error).
 */
const REQUEST_BOUND_MS = 120_000;
/** The setup's bound, on a hang: startup, then the simulation's and the rpm probe's slowest answers. */
const SETUP_TIMEOUT_MS = 90_000 + 2 * REQUEST_BOUND_MS;

/**
 * Dashboard panels allowed to return no data in this run, and why. Keep this list short and
 * honest: a panel is here only when no request to the chat API can produce its metric.
 */
const ALLOWED_EMPTY: Record<string, string> = {
  // llmsec_detect_events_dropped_total counts events the engine drops as `late` (older than the
  // allowed lateness) or `invalid` (no usable timestamp). Inline in the chat API every event
  // reaches the engine through the log-record processor as it is emitted (the span copy is a
  // duplicate and is dropped by id, not as late), with a timestamp from the SDK: neither reason
  // can occur. The panel sets noValue "0" (no `or vector(0)` in the query).
  'Detector dropped events': 'no late or invalid events can occur inline',
};

let redis: RedisHandle;
let collector: Server;
let rejectedExports = 0;
let am: AlertmanagerHandle;
let upstream: FakeLlm;
let api: ChatApi;
let prom: PrometheusHandle;
let personas: Persona[];
let stats: Map<string, PersonaStats>;
let trickle: NodeJS.Timeout | undefined;
/** The trickle's requests after Redis died: when sent, and the answer (status 0: none, or an error). */
const trickleRequests: { sentAt: number; status?: number }[] = [];
const errorStatuses: number[] = [];
/** The deterministic rpm check: the answers of one free user's sequential requests, up to its first 429. */
const rpmProbe: { allowed: number; refusal?: { status: number; reason?: string } } = { allowed: 0 };
/** A request sent while Redis is down must be answered within this (the host keeps working). */
const ANSWER_BOUND_MS = 5_000;

async function chat(user: string, content: string, plan: 'free' | 'pro' = 'pro'): Promise<number> {
  return (await chatWithReason(user, content, plan)).status;
}

/** The status, and for a refusal its reason (the refusing dimension of a 429). */
async function chatWithReason(
  user: string,
  content: string,
  plan: 'free' | 'pro',
): Promise<{ status: number; reason?: string }> {
  try {
    const res = await fetch(`${api.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': user, 'x-plan': plan },
      body: JSON.stringify({ messages: [{ role: 'user', content }], max_tokens: 100 }),
      // A bound on a hang (REQUEST_BOUND_MS): at load 20-22 the first upstream-error request,
      // sent in the simulated burst, took over 10 s (status 0, not the 502 it asserts). The
      // trickle's 5 s bound is its own (sentAt).
      signal: AbortSignal.timeout(REQUEST_BOUND_MS),
    });
    const body = (await res.json().catch(() => ({}))) as { error?: { reason?: string } };
    return { status: res.status, reason: body.error?.reason };
  } catch {
    return { status: 0 };
  }
}

beforeAll(async () => {
  redis = await startRedis();
  // An OTLP/HTTP collector that refuses everything with a non-retryable 400.
  collector = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      rejectedExports++;
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end('{"message":"rejected by the test collector"}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  am = await startAlertmanager({
    config: ['route:', '  receiver: blackhole', 'receivers:', '  - name: blackhole', ''].join('\n'),
  });
  upstream = await startFakeLlm({ script: demoUpstreamScript });
  api = await startChatApi({
    upstream: { baseURL: upstream.openaiBaseURL, apiKey: 'fake-key' },
    redisUrl: redis.url,
    alertmanagerUrls: [am.url],
    otlpEndpoint: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
    serviceName: 'chat-api-e2e-prometheus',
  });
  prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${api.port}`], scrapeIntervalSec: 1 });
  await prom.waitForData('up{job="llmsec"} == 1', { timeoutMs: 15_000 });

  personas = buildPersonas(seededRandom(SEED));
  const upstreamErrors = (async () => {
    await new Promise((r) => setTimeout(r, SIM_DURATION_MS / 3));
    for (let i = 0; i < 3; i++)
      errorStatuses.push(await chat(`e2e-upstream-error-${i}`, 'Summarise my last order [[500]]'));
  })();
  stats = await drive(personas, {
    target: api.url,
    durationMs: SIM_DURATION_MS,
    timeoutMs: REQUEST_BOUND_MS,
  });
  await upstreamErrors;

  // The flooder's refusals depend on timing: on a loaded machine its unawaited burst overlaps
  // more, so `concurrent` (4 in flight on the free plan) refuses most of it before `rpm` (30 a
  // minute) is reached, and detection's enforcement may block it first. The rpm panel gets a
  // deterministic source too: one free user, one request at a time (never concurrent), benign
  // prompts (nothing for detection or enforcement), until the first refusal.
  for (let i = 0; i < 60 && rpmProbe.refusal === undefined; i++) {
    const answer = await chatWithReason('e2e-rpm-probe', BENIGN_PROMPTS[i % BENIGN_PROMPTS.length]!, 'free');
    if (answer.status === 200) rpmProbe.allowed++;
    else rpmProbe.refusal = answer;
  }

  // Redis goes away: from now on the limiter fails open on its local fallback.
  await redis.kill();
  // Live traffic while the dashboard is read, as on a real dashboard: rates over the last
  // $__rate_interval and latency quantiles need recent samples.
  let n = 0;
  trickle = setInterval(() => {
    n++;
    const request: { sentAt: number; status?: number } = { sentAt: Date.now() };
    trickleRequests.push(request);
    void chat(`e2e-trickle-${n % 5}`, BENIGN_PROMPTS[n % BENIGN_PROMPTS.length]!).then((s) => {
      request.status = s;
    });
  }, 200);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  if (trickle) clearInterval(trickle);
  await prom?.stop();
  await api?.close();
  await upstream?.close();
  await am?.stop();
  await redis?.stop();
  if (collector) await new Promise((r) => collector.close(r));
}, 60_000);

const queries = dashboardQueries(loadDashboard());

describe('the Grafana dashboard against the live chat API, scraped by a real Prometheus', () => {
  it('the simulator ran: benign traffic answered, attacks blocked, the flooder refused', () => {
    // On failure, every persona's counts (a loaded machine once failed this with no word of which).
    const all = JSON.stringify(Object.fromEntries(stats));
    const benign = stats.get('benign users')!;
    expect(benign.requests, all).toBeGreaterThan(100);
    expect(benign.ok, all).toBe(benign.requests);
    expect(stats.get('injection spammer')!.blocked, all).toBeGreaterThan(0);
    expect(stats.get('rate-limit flooder')!.rateLimited, all).toBeGreaterThan(0);
    expect(errorStatuses).toEqual([502, 502, 502]);
  });

  it('every dashboard query returns data through the Prometheus HTTP API', async () => {
    const check = queries.filter((q) => !(q.panel in ALLOWED_EMPTY));
    expect(check.length).toBeGreaterThan(20);
    const missing: MissingData[] = await queriesWithoutData(prom, { queries: check, timeoutMs: 20_000 });
    const report = missing
      .map((m) => `${m.query.panel} [${m.query.refId}]: ${m.promql}\n    ${m.error}`)
      .join('\n');
    expect(report, `dashboard queries without data:\n${report}`).toBe('');
  }, 60_000);

  it('the panels allowed to be empty are the ones that cannot occur, and they read nothing but zero', async () => {
    for (const panel of Object.keys(ALLOWED_EMPTY)) {
      const panelQueries = queries.filter((q) => q.panel === panel);
      expect(panelQueries.length, panel).toBeGreaterThan(0);
      for (const q of panelQueries) {
        // Whatever the query returns must be zero: a healthy run drops no events.
        const result = await prom.query(substituteVariables(q.expr));
        for (const v of finiteValues(result)) expect(v, `${panel}: ${q.expr}`).toBe(0);
      }
    }
  });

  it('the injected faults are the ones the health panels show', async () => {
    const storeErrors = await prom.waitForData('sum by (error_type) (llmsec_ratelimit_store_errors_total)');
    expect((storeErrors.result as PromSeries[]).map((s) => s.metric.error_type).length).toBeGreaterThan(0);
    await prom.waitForData('sum(llmsec_ratelimit_decisions_total{outcome="fallback"}) > 0');
    // Failing open: the trickle kept being answered while Redis was down, every request within
    // the bound (the limiter on its fallback, detection degraded to this process).
    await waitUntil(() => trickleRequests.filter((r) => r.status !== undefined).length >= 5, {
      timeoutMs: 3 * ANSWER_BOUND_MS,
      what: 'five answers to the trickle while Redis is down',
    }).catch(() => {});
    const now = Date.now();
    const statuses = trickleRequests.flatMap((r) => (r.status !== undefined ? [r.status] : []));
    const overdue = trickleRequests.filter((r) => r.status === undefined && now - r.sentAt > ANSWER_BOUND_MS);
    const state = `trickle statuses ${JSON.stringify(statuses)}, ${overdue.length} of ${trickleRequests.length} unanswered after ${ANSWER_BOUND_MS} ms; detection ${api.engine.stats.state?.mode}`;
    expect(statuses.filter((s) => s === 200).length, state).toBeGreaterThan(0);
    expect(
      statuses.filter((s) => s !== 200 && s !== 429),
      state,
    ).toEqual([]);
    expect(overdue.length, state).toBe(0);
    expect(api.engine.stats.state?.mode, 'detection degraded to this process').toBe('degraded');
    const telemetry = await prom.waitForData('sum by (component) (llmsec_telemetry_errors_total)');
    expect((telemetry.result as PromSeries[]).map((s) => s.metric.component)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^otlp_/)]),
    );
    expect(rejectedExports).toBeGreaterThan(0);
  });

  it('breaks traffic out by outcome and the attacks by guardrail layer and rule', async () => {
    // LLM requests by outcome: answered, refused by a guard, failed upstream. (The limiter's own
    // 429s never reach the LLM client, so they are not LLM requests: they are counted by
    // llmsec_ratelimit_decisions_total, below.)
    const outcomes = await prom.waitForData('sum by (outcome) (llmsec_requests_total)');
    expect((outcomes.result as PromSeries[]).map((s) => s.metric.outcome)).toEqual(
      expect.arrayContaining(['allowed', 'blocked', 'error']),
    );
    // The deterministic source of rpm refusals (see beforeAll); the flooder may add more.
    expect(rpmProbe.refusal, `after ${rpmProbe.allowed} allowed`).toEqual({ status: 429, reason: 'rpm' });
    const refusals = await prom.waitForData(
      'sum by (dimension) (llmsec_ratelimit_decisions_total{outcome="refused"})',
    );
    expect((refusals.result as PromSeries[]).map((s) => s.metric.dimension)).toEqual(
      expect.arrayContaining(['rpm']),
    );
    const levels = await prom.waitForData('sum by (level) (llmsec_enforcement_transitions_total)');
    expect((levels.result as PromSeries[]).length).toBeGreaterThan(0);
    const layers = await prom.waitForData('sum by (layer) (llmsec_events_total{category="guardrail_block"})');
    expect((layers.result as PromSeries[]).map((s) => s.metric.layer)).toEqual(
      expect.arrayContaining(['prompt_injection', 'jailbreak', 'harmful_content', 'secrets']),
    );
    // Alerts fire as detection's event-time watermark passes the attacks (allowed lateness)
    // and Prometheus scrapes once a second: wait for the whole set, not just the first series.
    const expectedRules = ['rapid_guardrail_blocks', 'systematic_enumeration', 'output_filter_bypass'];
    let firing: string[] = [];
    await waitUntil(
      async () => {
        const rules = await prom.query('sum by (rule) (llmsec_alerts_total{status="firing"})');
        firing = (rules.result as PromSeries[]).map((s) => s.metric.rule ?? '');
        return expectedRules.every((rule) => firing.includes(rule));
      },
      { timeoutMs: 30_000, what: 'the detection alert series' },
    ).catch(() => {});
    expect(firing).toEqual(expect.arrayContaining(expectedRules));
  });

  it('no series carries a user, session or prompt: only bounded labels', async () => {
    const users = new Set(personas.flatMap((p) => p.users));
    // llmsec's and the GenAI metrics (target_info carries the process's resource, not traffic).
    const all = await prom.query('{job="llmsec", __name__=~"llmsec_.*|gen_ai_.*"}');
    const series = all.result as PromSeries[];
    expect(series.length).toBeGreaterThan(20);
    for (const s of series) {
      for (const [name, value] of Object.entries(s.metric)) {
        expect(['user_id', 'user', 'session_id', 'session', 'prompt'], `${s.metric.__name__}`).not.toContain(
          name,
        );
        expect(
          users.has(value) || value.startsWith('e2e-') || value.length > 100,
          `${s.metric.__name__} ${name}=${value}`,
        ).toBe(false);
      }
    }
  });
});
