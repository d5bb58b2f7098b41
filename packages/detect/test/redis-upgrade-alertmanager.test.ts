import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useAlertmanager } from '../../../test/support/alertmanager.ts';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import {
  AlertmanagerSink,
  defaultRules,
  DetectionEngine,
  RedisDetectionState,
  type RuleDefinition,
} from '../src/index.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';
import { until } from '../../../test/support/until.ts';

/**
 * A release switch seen from Alertmanager: a replica of the previous release (the built-in
 * rules) fires an incident and leaves; a replica of the next release (one rule more, the list in
 * another order) takes over on the same Redis, in the default namespace as a detector fleet runs.
 * It adopts the incident (the per-rule state is the same), keeps the very alert the old replica
 * sent active in Alertmanager, never fires it again under another start, and resolves it once
 * when it is due; Alertmanager then shows nothing. On the previous layout the new release read
 * none of the old one's state (the namespace was a hash of the rule list): the incident was not
 * adopted and Alertmanager resolved it on its own while it was open.
 */

const LATENESS = 5 * SEC;
const RESEND_MS = 1_000;
const RESOLVE_TIMEOUT_MS = 5_000;

const am = useAlertmanager({ resolveTimeout: `${RESOLVE_TIMEOUT_MS / 1000}s` });

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  status: { state: string };
}

async function activeOf(user: string): Promise<AmAlert[]> {
  const filter = encodeURIComponent(`user_id="${user}"`);
  const res = await fetch(`${am.url}/api/v2/alerts?active=true&filter=${filter}`);
  const list = (await res.json()) as AmAlert[];
  return list.filter((a) => a.status.state === 'active');
}

const view = (list: AmAlert[]) =>
  list.map((a) => JSON.stringify({ labels: a.labels, startsAt: a.startsAt })).sort();

const ADDED: RuleDefinition = {
  id: 'two_blocks_a_minute',
  title: 'Two guardrail blocks in a minute',
  severity: 'warning',
  match: { categories: ['guardrail_block'] },
  group_by: 'user_id',
  window_ms: MIN,
  condition: { kind: 'count', min: 2 },
};

function replica(redis: Redis, prefix: string, rules: RuleDefinition[]) {
  const alerts: Alert[] = [];
  const sink = new AlertmanagerSink({ urls: [am.url], resendIntervalMs: RESEND_MS, flushTimeoutMs: 5_000 });
  const state = new RedisDetectionState({ redis, prefix, commandTimeoutMs: 1_000, shutdownGraceMs: 0 });
  const engine = new DetectionEngine({
    rules,
    allowedLatenessMs: LATENESS,
    state,
    sinks: [sink],
    onAlert: (a) => alerts.push(a),
  });
  return { engine, alerts, sink };
}

describe('a release switch: the old release’s open incident in Alertmanager', () => {
  const db = useRedis({ clients: 2 });

  it('is adopted by the new release, kept as the same alert, and resolved once', async () => {
    const prefix = `amup-${freshRuleset()}`;
    const previous = defaultRules();
    const old = replica(db.clients[0]!, prefix, previous);
    for (let s = 0; s < 10; s++) {
      const { event, t } = ev({
        at: T0 + s * SEC,
        category: 'guardrail_block',
        user: 'dave',
        id: `dave-${s}`,
      });
      old.engine.ingest(event, t);
    }
    old.engine.advanceTo(T0 + 10 * SEC + LATENESS);
    await old.engine.forceFlush();
    expect(old.alerts.map((x) => [x.rule, x.status])).toEqual([['rapid_guardrail_blocks', 'firing']]);
    await until(async () => (await activeOf('dave')).length === 1, 5_000, 50);
    const shown = await activeOf('dave');
    await old.engine.shutdown();

    const next = replica(db.clients[1]!, prefix, [ADDED, ...previous].reverse());
    // Three resolve_timeouts after the old replica left: still active, the very alert it sent.
    const end = Date.now() + 3 * RESOLVE_TIMEOUT_MS;
    while (Date.now() < end) {
      expect(view(await activeOf('dave'))).toEqual(view(shown));
      await sleep(200);
    }
    expect(next.sink.firingCount).toBe(1);
    // Due: the new release's sweep resolves it, once, and fires nothing.
    next.engine.advanceTo(T0 + 30 * MIN);
    await next.engine.forceFlush();
    expect(next.alerts.map((x) => [x.rule, x.status, x.alert_id])).toEqual([
      ['rapid_guardrail_blocks', 'resolved', old.alerts[0]!.alert_id],
    ]);
    await until(async () => (await activeOf('dave')).length === 0, 3 * RESEND_MS, 50);
    const quiet = Date.now() + 3 * RESEND_MS;
    while (Date.now() < quiet) {
      expect(await activeOf('dave')).toEqual([]);
      await sleep(100);
    }
    await until(async () => next.sink.firingCount === 0, 3 * RESEND_MS, 50);
    expect(next.alerts.filter((x) => x.status === 'firing')).toEqual([]);
    await next.engine.shutdown();
  }, 60_000);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
