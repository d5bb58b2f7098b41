import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { freshRuleset } from './redis-support.ts';

/**
 * A known limitation, pinned: an incident the local engine opened while Redis was unreachable
 * is not in Redis, so when Redis answers again and the group's attack goes on, the fleet opens
 * its own incident for the group (a second firing line, another alert id) while the local one
 * still fires. Each is resolved exactly once: the local one by this process (here as it
 * leaves), the fleet's by another replica's sweep at its due time. Folding the two would need
 * the group step to consult the local engine's open incidents (or the local ones written to
 * Redis when it answers again); not done.
 */

const LATENESS = 5 * SEC;
const RULE = 'rapid_guardrail_blocks';
const blocks = (user: string, from: number, n: number) =>
  Array.from({ length: n }, (_, s) =>
    ev({ at: from + s * SEC, category: 'guardrail_block', user, id: `${user}-${from + s * SEC}` }),
  );

async function until(cond: () => boolean, ms: number): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('RedisDetectionState: an incident opened while degraded, Redis back, the attack goes on', () => {
  const db = useRedis({ clients: 2 });

  it('the fleet opens a second incident for the group; each is resolved once', async () => {
    const ruleset = freshRuleset('degraded-return');
    const replica = (client: number) => {
      const alerts: Alert[] = [];
      const state = new RedisDetectionState({
        redis: db.clients[client]!,
        ruleset,
        commandTimeoutMs: 5_000,
        shutdownGraceMs: 0,
        probeIntervalMs: 20,
      });
      const engine = new DetectionEngine({
        rules: defaultRules(),
        allowedLatenessMs: LATENESS,
        state,
        onAlert: (a) => alerts.push(a),
      });
      return { engine, state, alerts };
    };
    const a = replica(0);
    const b = replica(1);
    const warm = ev({ at: T0, category: 'guardrail_block', user: 'x', id: 'x-0' });
    a.engine.ingest(warm.event, warm.t);
    await a.engine.forceFlush();

    const up = { cas: a.state.cas, advanceClock: a.state.advanceClock, ping: a.state.ping };
    const fail = () => Promise.reject(new Error('Redis gone'));
    Object.assign(a.state, { cas: fail, advanceClock: fail, ping: fail });
    a.engine.advanceTo(T0 + 1);
    await a.engine.forceFlush();
    expect(a.engine.stats.state?.mode).toBe('degraded');
    for (const { event, t } of blocks('dave', T0 + 10 * SEC, 10)) a.engine.ingest(event, t);
    a.engine.advanceTo(T0 + 19 * SEC + LATENESS);

    Object.assign(a.state, up);
    await until(() => a.engine.stats.state?.mode === 'shared', 5_000);
    for (const { event, t } of blocks('dave', T0 + 30 * SEC, 10)) a.engine.ingest(event, t);
    a.engine.advanceTo(T0 + 39 * SEC + LATENESS);
    await a.engine.forceFlush();
    await a.engine.shutdown();
    b.engine.advanceTo(T0 + 30 * MIN);
    await b.engine.forceFlush();
    await b.engine.shutdown();

    const lines = [...a.alerts, ...b.alerts].filter((x) => x.rule === RULE && x.labels.user_id === 'dave');
    const ids = [...new Set(lines.map((x) => x.alert_id))];
    // Two incidents for one group (the limitation).
    expect(ids).toHaveLength(2);
    for (const id of ids) {
      expect(lines.filter((x) => x.alert_id === id).map((x) => x.status)).toEqual(['firing', 'resolved']);
    }
    const [local, fleet] = ids.map((id) => lines.find((x) => x.alert_id === id && x.status === 'resolved')!);
    // The local one ended as a left (not before its last event); the fleet's a quiet period
    // after the group's last event, resolved by b.
    expect(Date.parse(local!.ends_at!)).toBeGreaterThanOrEqual(T0 + 19 * SEC);
    expect(a.alerts).toContain(local);
    expect(Date.parse(fleet!.ends_at!)).toBe(T0 + 39 * SEC + 10 * MIN);
    expect(b.alerts).toContain(fleet);
  });
});
