import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, type DetectionEngine } from '../src/index.ts';
import type { SharedEngine } from '../src/state/shared-engine.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';

/**
 * The fleet's open incidents (SharedEngine.openIncidents): each engine on a shared state lists
 * the incidents every engine opened, as their current firing alerts, and none once resolved;
 * activeIncidents() still lists only what the process holds.
 */

const db = useRedis({ clients: 2 });
const LATENESS = 5 * SEC;

function sharedOf(engine: DetectionEngine): SharedEngine {
  return (engine as unknown as { shared: SharedEngine }).shared;
}

const brief = (alerts: Alert[]) => alerts.map((a) => [a.rule, a.status, a.labels, a.user_ids]);

describe('RedisDetectionState: open incidents of the fleet', () => {
  it('two engines each list both engines’ incidents, and none once they resolve', async () => {
    const ruleset = freshRuleset('fleet');
    const [a, b] = db.clients.map((c) =>
      redisEngine(c, defaultRules(), LATENESS, ruleset, { shutdownGraceMs: 0 }),
    );
    for (const [engine, user] of [
      [a!.engine, 'alice'],
      [b!.engine, 'bob'],
    ] as const) {
      for (let i = 0; i < 10; i++) {
        const { event, t } = ev({ at: T0 + i * SEC, category: 'guardrail_block', user, id: `${user}${i}` });
        engine.ingest(event, t);
      }
      engine.advanceTo(T0 + 9 * SEC + LATENESS);
      await engine.forceFlush();
    }
    expect(brief([...a!.alerts, ...b!.alerts])).toHaveLength(2);
    const want = [
      ['rapid_guardrail_blocks', 'firing', { user_id: 'alice' }, ['alice']],
      ['rapid_guardrail_blocks', 'firing', { user_id: 'bob' }, ['bob']],
    ];
    const fromA = await sharedOf(a!.engine).openIncidents();
    expect(brief(fromA)).toEqual(want);
    expect(brief(await sharedOf(b!.engine).openIncidents())).toEqual(want);
    // The listing is the incidents' current state: the alert ids and evidence of the firing lines.
    const fired = [...a!.alerts, ...b!.alerts].sort((x, y) => x.alert_id.localeCompare(y.alert_id));
    expect(fromA.map((x) => [x.alert_id, x.evidence]).sort()).toEqual(
      fired.map((x) => [x.alert_id, x.evidence]).sort(),
    );
    // In memory, activeIncidents() held them; on the shared state it lists only local ones.
    expect(a!.engine.activeIncidents()).toEqual([]);

    // Quiet past the rule's quiet period: resolved by the sweep, gone from the listing.
    a!.engine.advanceTo(T0 + 9 * SEC + 11 * MIN + LATENESS);
    await a!.engine.forceFlush();
    expect([...a!.alerts, ...b!.alerts].filter((x) => x.status === 'resolved')).toHaveLength(2);
    expect(await sharedOf(b!.engine).openIncidents()).toEqual([]);
    await Promise.all([a!.engine.shutdown(), b!.engine.shutdown()]);
  });
});
