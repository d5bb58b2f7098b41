import { describe, expect, it } from 'vitest';
import { ManualClock, type Alert } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import type { DetectionEngine } from '../src/index.ts';
import { freshRuleset, liveReplica, tickFor as tickEvery } from './redis-support.ts';
import { injectionBlock } from './helpers.ts';

/**
 * A detector restarted (a deploy, a crash) while an incident is open in Redis, and no event
 * comes after it: the attack stopped, the night is quiet. The incident is the fleet's; the new
 * replica's ticks must let event time move on from the fleet's clock so it resolves, as it
 * would have in the replica that opened it. Before, a live engine that had ingested nothing
 * never moved event time on a tick: the incident stayed open until the next event reached the
 * fleet, and the detector's Alertmanager adoption re-sent it as firing all that while.
 */

const NOW = Date.parse('2026-12-06T02:00:00.000Z');
const LATENESS = 5_000;
const TICK = 1_000;

const db = useRedis();

const replica = (clock: ManualClock, ruleset: string, alerts: Alert[]): DetectionEngine =>
  liveReplica(db.redis, clock, ruleset, LATENESS, alerts);
const tickFor = (engine: DetectionEngine, clock: ManualClock, ms: number): Promise<void> =>
  tickEvery(engine, clock, ms, TICK);

describe('an incident open in Redis when its replica restarts', () => {
  it('resolves on the new replica with no event after the restart', async () => {
    const ruleset = freshRuleset('restart');
    const clock = new ManualClock(NOW);
    const before: Alert[] = [];
    const first = replica(clock, ruleset, before);
    first.tick();
    for (let i = 0; i < 10; i++) {
      first.ingest(injectionBlock(`EVT-restart-${i}`, 'mallory', clock.now()));
      await tickFor(first, clock, TICK);
    }
    await tickFor(first, clock, 2 * LATENESS);
    expect(before.map((a) => `${a.rule} ${a.status}`)).toEqual(['rapid_guardrail_blocks firing']);
    // Stopped before the quiet period (10 min) ended: the incident stays in Redis for the fleet.
    await first.shutdown();
    expect(before).toHaveLength(1);

    clock.advance(30_000); // the restart
    const after: Alert[] = [];
    const second = replica(clock, ruleset, after);
    second.tick();
    // The quiet period, the lateness and a few ticks: no event at all.
    await tickFor(second, clock, 10 * 60_000 + LATENESS + 5 * TICK);
    await second.shutdown();
    expect(after.map((a) => `${a.rule} ${a.status}`)).toEqual(['rapid_guardrail_blocks resolved']);
    expect(after[0]!.alert_id).toBe(before[0]!.alert_id);
    // Ends where the quiet period after the last block ended, not at the restart.
    expect(after[0]!.ends_at).toBe(new Date(NOW + 9 * TICK + 10 * 60_000).toISOString());
  }, 60_000);
});
