import { describe, expect, it } from 'vitest';
import { ManualClock } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { freshRuleset, liveReplica, tickFor } from './redis-support.ts';

/**
 * A replica on a fresh fleet, whose Redis holds no event-time clock yet (no replica has
 * shipped an event), that receives nothing. Once idle for the allowed lateness it reads the
 * fleet's clock (engine.ts tickFromFleet); finding none, it read again at every tick: one empty
 * Redis round per second per idle replica, for as long as the fleet stayed quiet. Now the reads
 * back off, doubling up to a minute apart; a restarted replica (a clock in Redis) finds it at
 * its first read, as before (redis-restart-idle-resolve.test.ts).
 */

const NOW = Date.parse('2026-12-06T03:00:00.000Z');
const LATENESS = 5_000;
const TICK = 1_000;

const db = useRedis();

/** Scripts Redis has run so far (each round of the shared state is one). */
async function scriptsRun(): Promise<number> {
  const info = await db.redis.info('commandstats');
  let calls = 0;
  for (const m of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(m[1]);
  return calls;
}

describe('an idle replica on a fleet whose Redis holds no clock', () => {
  it('reads the fleet clock with a growing gap, not at every tick', async () => {
    const clock = new ManualClock(NOW);
    const engine = liveReplica(db.redis, clock, freshRuleset('empty-fleet'), LATENESS);
    engine.tick();
    await engine.forceFlush();
    const before = await scriptsRun();
    // Ten minutes of one-second ticks, no event anywhere.
    await tickFor(engine, clock, 600 * TICK, TICK);
    const rounds = (await scriptsRun()) - before;
    await engine.shutdown();
    // Per tick past the lateness this was 595. Doubling from 1 s to a 60 s cap: 1, 2, 4, 8,
    // 16, 32 s, then every 60 s: about 16 reads in ten minutes.
    expect(rounds).toBeGreaterThan(5);
    expect(rounds).toBeLessThanOrEqual(20);
  }, 300_000);
});
