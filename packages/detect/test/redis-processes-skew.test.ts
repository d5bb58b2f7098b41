import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { defaultRules } from '../src/index.ts';
import { fleetScenario, runProcesses } from './engine-children.ts';
import { canonical, freshRuleset, memoryAlerts, sequences, type Timed } from './redis-support.ts';
import { incidentLines } from './redis-split.ts';

/**
 * The fleet's clock is the newest event time any process shipped, not a minimum over the
 * processes. What decides on it: a group's pending events are processed once the watermark
 * (that time minus the lateness) passes them (window order), an event older than its group's
 * processed time is late, and an incident resolves once the watermark passes its resolve
 * time. Three processes, one of them fed its share late (each event reaches it when the
 * others are already up to `SKEW` further in event time, less than the lateness): the same
 * alerts as one memory engine on the whole stream, none late. An event reaches the slow
 * process when the clock is at most SKEW past it, so the watermark is behind it, and so behind
 * any resolve time it could still push out: within the lateness a slow replica cannot lose an
 * event or let an incident resolve early. Beyond the lateness its events are late, and which
 * ones differ from one process (the second case, a known limit).
 */

const LATENESS = 30_000;
const SKEW = 20_000;
const SKEW_BEYOND = 45_000;

// 300 s per case: a bound on a hang only. The three engine processes of the second case took
// 91 s of wall at load 14-20 beside another file (the file: ~18 s of CPU, 158 s of wall at load
// 32), so the former 120 s left no room at CI's load 20-28.

describe('three processes, one delivering late within the lateness', () => {
  let server: RedisHandle;
  const stream = fleetScenario();
  const want = memoryAlerts(defaultRules(), stream, LATENESS);

  beforeAll(async () => {
    server = await startRedis();
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  /** Every third event is the slow process's, and reaches it `skew` later in the others' time. */
  function skewed(skew: number): { arrival: Timed[]; owner: (e: Timed) => number } {
    const slow = new Set<Timed>(stream.filter((_, i) => i % 3 === 2));
    const arrival = [...stream].sort(
      (a, b) => a.t + (slow.has(a) ? skew : 0) - (b.t + (slow.has(b) ? skew : 0)),
    );
    return { arrival, owner: (e) => (slow.has(e) ? 2 : e.t % 2) };
  }

  it('gives one memory engine’s alerts', async () => {
    const { arrival, owner } = skewed(SKEW);
    const config = { url: server.url, ruleset: freshRuleset('skew'), latenessMs: LATENESS };
    const { alerts, late, perProcess } = await runProcesses(
      [config, config, config],
      arrival,
      LATENESS,
      owner,
    );
    expect(late).toBe(0);
    expect(incidentLines(alerts).problems).toEqual([]);
    expect(sequences(alerts)).toEqual(sequences(want));
    expect(canonical(alerts)).toEqual(canonical(want));
    // The slow process did alert (its events counted, not only carried).
    expect(perProcess[2]!.length).toBeGreaterThan(0);
  }, 300_000);

  // Known limit (README, Shared event time): past the lateness, what is late depends on when
  // each group was last stepped. A group's cut is its processed time, which moves when a step
  // of it runs: one process releases its pending groups on its next batch, a fleet's process
  // only the groups it left pending (others after one more lateness, as orphans). So a late
  // event finds its group behind in the fleet more often and is taken (here 165 or 166 late
  // against 192, 53 alert lines against 54). Asserted as a difference, red the day they agree;
  // not an it.fails, which stays green on any throw (a child process failing, Redis gone).
  it('beyond the lateness: the late events and alerts differ from one process on Redis fed in the same order (known limit)', async () => {
    const { arrival, owner } = skewed(SKEW_BEYOND);
    const ruleset = freshRuleset('three');
    const one = await runProcesses(
      [{ url: server.url, ruleset: freshRuleset('one'), latenessMs: LATENESS }],
      arrival,
      LATENESS,
    );
    const config = { url: server.url, ruleset, latenessMs: LATENESS };
    const fleet = await runProcesses([config, config, config], arrival, LATENESS, owner);
    expect(one.late).toBeGreaterThan(0);
    expect(fleet.late).toBeGreaterThan(0);
    expect(incidentLines(fleet.alerts).problems).toEqual([]);
    expect({ late: fleet.late, alerts: canonical(fleet.alerts) }).not.toEqual({
      late: one.late,
      alerts: canonical(one.alerts),
    });
  }, 300_000);
});
