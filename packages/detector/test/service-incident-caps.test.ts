// max_open_incidents_per_rule through the running service: with a cap of 1, a second user's
// system_prompt_leakage (one event fires it) still fires, from the overflow tier, and the
// refusal shows in the engine's stats and as llmsec_detect_incidents_refused_total on /metrics.
// With Redis state the cap is the fleet's: the state must get it too, or it admits both.
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import type { RunningDetector } from '../src/service/detector.ts';
import { emitThrough } from './sender.ts';
import { startDetectorWith } from './service-support.ts';

let detector: RunningDetector | undefined;
let redis: RedisHandle | undefined;
afterEach(async () => {
  await detector?.shutdown();
  detector = undefined;
});
afterAll(async () => {
  await redis?.stop();
});

async function twoLeaks(d: RunningDetector, seed: number): Promise<void> {
  await emitThrough(
    new ProtoLogExporter({ url: `http://127.0.0.1:${d.http.port}/v1/logs` }) as unknown as LogRecordExporter,
    seed,
    Date.now() - 10_000,
    (ev, clock) => {
      for (const userId of ['alice', 'bob']) {
        ev.systemPromptLeakage({ userId, method: 'canary', confidence: 0.9 });
        clock.advance(1000);
      }
    },
    true, // in order: the detector allows no lateness
  );
}

async function waitFor(what: string, ok: () => boolean): Promise<void> {
  const until = Date.now() + 15_000;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * llmsec_detect_incidents_refused_total on the service's /metrics: the sum over its series (the
 * engine also exports an unlabelled 0 so the series exists before any refusal) and the rule's.
 */
async function refusedOnMetrics(d: RunningDetector): Promise<{ total: number; rule: number }> {
  const text = await (await fetch(`http://127.0.0.1:${d.http.port}/metrics`)).text();
  let total = 0;
  let rule = 0;
  for (const m of text.matchAll(/^llmsec_detect_incidents_refused_total(\{[^}]*\})? (\S+)$/gm)) {
    total += Number(m[2]);
    if (m[1]?.includes('rule="system_prompt_leakage"')) rule += Number(m[2]);
  }
  return { total, rule };
}

describe('detector service at max_open_incidents_per_rule', () => {
  it('fires both users, the second from the overflow tier, and counts one refusal', async () => {
    ({ detector } = await startDetectorWith('caps', () => ({
      allowed_lateness: '0s',
      max_open_incidents_per_rule: 1,
    })));
    const d = detector;
    await twoLeaks(d, 41);
    await waitFor(`two alerts (${JSON.stringify(d.engine.stats)})`, () => d.engine.stats.alertsFired === 2);
    expect(d.engine.stats.incidentsRefused).toBe(1);
    const active = d.engine.activeIncidents().filter((i) => i.rule === 'system_prompt_leakage');
    expect(active.map((i) => i.user_ids).sort()).toEqual([['alice'], ['bob']]);
    expect(await refusedOnMetrics(d)).toEqual({ total: 1, rule: 1 });
  });

  it('with max_overflow_incidents_per_rule 0, the second is refused without firing', async () => {
    ({ detector } = await startDetectorWith('caps-no-tier', () => ({
      allowed_lateness: '0s',
      max_open_incidents_per_rule: 1,
      max_overflow_incidents_per_rule: 0,
    })));
    const d = detector;
    await twoLeaks(d, 42);
    await waitFor(
      `one refusal (${JSON.stringify(d.engine.stats)})`,
      () => d.engine.stats.incidentsRefused === 1,
    );
    expect(d.engine.stats.alertsFired).toBe(1);
    expect(await refusedOnMetrics(d)).toEqual({ total: 1, rule: 1 });
  });

  it("with Redis state, the fleet's cap is the config's", async () => {
    redis = await startRedis();
    ({ detector } = await startDetectorWith('caps-redis', () => ({
      allowed_lateness: '0s',
      state: redis!.url,
      max_open_incidents_per_rule: 1,
    })));
    const d = detector;
    await twoLeaks(d, 43);
    await waitFor(`two alerts (${JSON.stringify(d.engine.stats)})`, () => d.engine.stats.alertsFired === 2);
    expect(d.engine.stats.incidentsRefused).toBe(1);
    expect(await refusedOnMetrics(d)).toEqual({ total: 1, rule: 1 });
  });
});
