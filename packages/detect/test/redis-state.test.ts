import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, type CodeRule, type Condition } from '../src/index.ts';
import { loadRuleTestFile } from '../src/rule-test-file.ts';
import { canonical, freshRuleset, memoryAlerts, redisEngine, sequences } from './redis-support.ts';
import { build, draw, TIGHT } from './streams.ts';

/**
 * One engine on the Redis state gives the alerts one in-memory engine gives: the same
 * firing and resolved lines, the same ids, descriptions, evidence and users.
 */

const db = useRedis();

const RULE_TESTS = new URL('../rules/tests/default-rules.test.yaml', import.meta.url).pathname;

describe('RedisDetectionState: one engine', () => {
  it('gives the same alerts as the memory engine on the built-in rule scenarios', async () => {
    const file = loadRuleTestFile(RULE_TESTS);
    const lateness = file.latenessMs ?? 5_000;
    let compared = 0;
    for (const test of file.tests) {
      const events = test.events.map(({ event, timeMs }) => ({ event, t: timeMs }));
      const want = memoryAlerts(defaultRules(), events, lateness);
      const { engine, alerts } = redisEngine(db.redis, defaultRules(), lateness, freshRuleset());
      for (const { event, t } of events) engine.ingest(event, t);
      engine.flush();
      await engine.shutdown();
      expect(canonical(alerts), test.name).toEqual(canonical(want));
      compared += want.length;
    }
    expect(compared).toBeGreaterThanOrEqual(4);
  });

  it('agrees with the memory engine on random streams of every condition kind', async () => {
    let firings = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          draw.map((d) => ({ ...d, user: d.user % 6 })),
          { minLength: 30, maxLength: 300 },
        ),
        fc.constantFrom(0, 30_000),
        async (draws, lateness) => {
          const events = build(draws);
          const want = memoryAlerts(TIGHT, events, lateness);
          const { engine, alerts } = redisEngine(db.redis, TIGHT, lateness, freshRuleset(), {
            batchSize: 37,
          });
          for (const { event, t } of events) engine.ingest(event, t);
          engine.flush();
          await engine.shutdown();
          expect(engine.stats.droppedLate).toBe(memoryLate(events, lateness));
          expect(sequences(alerts)).toEqual(sequences(want));
          expect(canonical(alerts)).toEqual(canonical(want));
          firings += want.length;
        },
      ),
      { numRuns: 30, seed: 9, endOnFailure: true },
    );
    expect(firings).toBeGreaterThan(100);
  });

  it('a full queue drops the oldest events and counts them; ingest never waits', async () => {
    const { engine } = redisEngine(db.redis, TIGHT, 0, freshRuleset('full'), { maxQueuedEvents: 5 });
    // In time order (none late), synchronously: nothing is shipped before the last ingest.
    const events = build(fc.sample(draw, { numRuns: 20, seed: 4 })).sort((a, b) => a.t - b.t);
    for (const { event, t } of events) engine.ingest(event, t);
    expect(engine.stats.state?.queueDropped).toBe(15);
    expect(engine.stats.state?.queued).toBe(5); // live: what a feeder reads for backpressure
    await engine.forceFlush();
    expect(engine.stats.processed).toBe(5);
    await engine.shutdown();
  });

  it('drops an event stamped far in the future instead of moving the shared clock there', async () => {
    const { engine } = redisEngine(db.redis, TIGHT, 0, freshRuleset('future'));
    const [first, second] = build(fc.sample(draw, { numRuns: 2, seed: 8 }));
    const future = Date.now() + 2 * 3_600_000;
    engine.ingest({ ...first!.event, event_id: 'from-the-future' }, future);
    engine.ingest(second!.event, second!.t);
    await engine.forceFlush();
    expect(engine.stats.state?.future).toBe(1);
    expect(engine.stats.droppedLate).toBe(0);
    expect(engine.stats.processed).toBe(1);
    await engine.shutdown();
  });

  it('a group state that does not decode is replaced, not fatal', async () => {
    const ruleset = freshRuleset('garbage');
    const { engine, alerts } = redisEngine(db.redis, defaultRules(), 0, ruleset);
    await db.redis.set(`llmsec:det:{${ruleset}:user_id:mallory}`, '7|{not json', 'PX', 60_000);
    for (let i = 0; i < 10; i++) {
      const t = Date.parse('2026-11-22T10:00:00Z') + i * 1_000;
      engine.ingest(
        {
          event_id: `g${i}`,
          timestamp: '',
          category: 'guardrail_block',
          severity: 'warning',
          user_id: 'mallory',
        },
        t,
      );
    }
    await engine.forceFlush();
    expect(engine.stats.state?.mode).toBe('shared');
    expect(alerts.map((a) => a.rule)).toContain('rapid_guardrail_blocks');
    await engine.shutdown();
  });

  it('code rules run in this process beside the shared data rules', async () => {
    const code: CodeRule = {
      id: 'code_every_leak',
      title: 'code rule',
      severity: 'critical',
      categories: ['system_prompt_leakage'],
      window_ms: 60_000,
      condition: {
        createState: () => ({ n: 0 }),
        update: (s: { n: number }) => ++s.n >= 1,
        describe: () => 'a leak',
      } as Condition<unknown>,
    };
    const { engine, alerts } = redisEngine(db.redis, [...TIGHT, code], 0, freshRuleset('code'));
    const events = build(fc.sample(draw, { numRuns: 200, seed: 12 }))
      .filter((e) => e.event.category === 'system_prompt_leakage')
      .sort((a, b) => a.t - b.t);
    expect(events.length).toBeGreaterThan(0);
    for (const { event, t } of events) engine.ingest(event, t);
    engine.flush();
    await engine.shutdown();
    expect(alerts.some((a) => a.rule === 'code_every_leak' && a.status === 'firing')).toBe(true);
    expect(alerts.some((a) => a.rule === 't_single' && a.status === 'firing')).toBe(true);
  });

  it('gives every key it writes a TTL', async () => {
    const ruleset = freshRuleset('ttl');
    const { engine } = redisEngine(db.redis, TIGHT, 0, ruleset);
    for (const { event, t } of build(fc.sample(draw, { numRuns: 200, seed: 3 }))) engine.ingest(event, t);
    engine.flush();
    await engine.shutdown();
    const keys = await db.redis.keys(`llmsec:det:{${ruleset}*`);
    expect(keys.length).toBeGreaterThan(3);
    for (const key of keys) expect(await db.redis.pttl(key), key).toBeGreaterThan(0);
  });
});

/** Late drops of the memory engine for the same stream (the shared engine must count the same). */
function memoryLate(events: { t: number }[], lateness: number): number {
  let max = Number.NEGATIVE_INFINITY;
  let late = 0;
  for (const { t } of events) {
    if (t < max - lateness) late++;
    else if (t > max) max = t;
  }
  return late;
}
