import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useAlertmanager } from '../../../test/support/alertmanager.ts';
import { until } from '../../../test/support/until.ts';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { AlertmanagerSink, defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';

/**
 * One incident, two processes re-sending it to one real Alertmanager: a fired it (its sink's
 * copy), b holds the adoption lease and adopted it (a copy rebuilt from the state). The attack
 * went on after the firing (the evidence's tail moved on), and links go to a trace viewer.
 * Alertmanager treats both copies as one alert (same labels), but each POST replaces its
 * annotations and generatorURL: when the copies differed (the firing-time evidence and trigger
 * link against the state's), the one alert flipped between them at every re-send. Both now
 * re-send the fleet's copy, so Alertmanager shows one version throughout.
 */

const LATENESS = 5 * SEC;
// Two seconds: each POST holds the alert active four intervals (8 s), so a loaded host that
// runs the re-send timers late still shows it at every look (1 s left it 4 s).
const RESEND_MS = 2_000;

const am = useAlertmanager();

interface AmAlert {
  annotations: Record<string, string>;
  generatorURL?: string;
  status: { state: string };
}

async function shown(user: string): Promise<string[]> {
  const filter = encodeURIComponent(`user_id="${user}"`);
  const res = await fetch(`${am.url}/api/v2/alerts?active=true&filter=${filter}`);
  const list = (await res.json()) as AmAlert[];
  return list
    .filter((a) => a.status.state === 'active')
    .map((a) => JSON.stringify({ annotations: a.annotations, generatorURL: a.generatorURL }));
}

function replica(redis: Redis, ruleset: string) {
  const alerts: Alert[] = [];
  const sink = new AlertmanagerSink({
    urls: [am.url],
    resendIntervalMs: RESEND_MS,
    flushTimeoutMs: 5_000,
    traceUrlTemplate: 'http://jaeger:16686/trace/{trace_id}',
  });
  // A Redis call slower than this sends the engine local (degraded), and this test is not about
  // that: a loaded host's slow reply must not take the incident out of the shared state.
  const state = new RedisDetectionState({ redis, ruleset, commandTimeoutMs: 5_000, shutdownGraceMs: 0 });
  const engine = new DetectionEngine({
    rules: defaultRules(),
    allowedLatenessMs: LATENESS,
    state,
    sinks: [sink],
    onAlert: (a) => alerts.push(a),
  });
  return { engine, alerts, sink, state };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('an incident re-sent by the process that fired it and by the adopter', () => {
  const db = useRedis({ clients: 2 });

  it('shows one version of its annotations in Alertmanager, not the two copies in turn', async () => {
    const ruleset = freshRuleset('fleet-same-copy');
    // b first: its first re-send takes the adoption lease, so b adopts what a fires. Awaited
    // (the lease key exists; b is the only process), not slept on: a first re-send a loaded host
    // ran late let a take the lease, and then nothing adopted a's incident.
    const b = replica(db.clients[1]!, ruleset);
    const lease = b.state.adoptionLeaseKey(ruleset);
    await until(async () => (await db.clients[1]!.exists(lease)) === 1, 20_000, 20);
    const a = replica(db.clients[0]!, ruleset);
    const user = 'gus';
    // Sixteen blocks, each in its own trace: the rule fires before the last, which extend it.
    for (let s = 0; s < 16; s++) {
      const trace = (s + 1).toString(16).padStart(32, '0');
      const { event, t } = ev({
        at: T0 + s * SEC,
        category: 'guardrail_block',
        user,
        id: `${user}-${s}`,
        trace,
      });
      a.engine.ingest(event, t);
    }
    a.engine.advanceTo(T0 + 16 * SEC + LATENESS);
    await a.engine.forceFlush();
    const fired = a.alerts.filter((x) => x.status === 'firing' && x.labels.user_id === user);
    expect(fired).toHaveLength(1);
    // b adopts it at its next re-send (awaited; the bound is on a hang), then both re-send it
    // every interval.
    await until(() => b.sink.firingCount > 0, 20_000, 50);
    await sleep(2 * RESEND_MS);
    // Six intervals: the versions Alertmanager shows for the one alert.
    const versions = new Set<string>();
    const end = Date.now() + 6 * RESEND_MS;
    while (Date.now() < end) {
      const now = await shown(user);
      expect(now).toHaveLength(1);
      versions.add(now[0]!);
      await sleep(50);
    }
    expect([...versions].map((v) => JSON.parse(v) as unknown)).toHaveLength(1);
    // The version shown is the incident as the fleet holds it: its latest evidence, and the
    // firing event's trace first in the links.
    const [only] = [...versions].map((v) => JSON.parse(v) as AmAlert);
    expect(only!.annotations.evidence).toContain(`${user}-15`);
    expect(only!.generatorURL).toBe(`http://jaeger:16686/trace/${fired[0]!.trigger!.trace_id}`);
    await a.engine.shutdown();
    await b.engine.shutdown();
  }, 120_000);
});
