import { describe, expect, it } from 'vitest';
import { ManualClock } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { freshRuleset } from './redis-support.ts';
import { injectionBlock } from './helpers.ts';

/**
 * A detector whose clock is behind its senders' (events stamped `skew` ahead of its wall
 * clock): live engines bound event time at the wall clock, so an event ahead of it waits until
 * the clock reaches it. How much later does the alert come than with clocks in step? The
 * detector as deployed: lateness 5 s, a tick every second, memory and Redis state. The attack:
 * twelve guardrail blocks a second apart (rapid_guardrail_blocks fires on the tenth).
 */

const NOW = Date.parse('2026-12-05T10:00:00.000Z');
const LATENESS = 5_000;
const TICK = 1_000;

const db = useRedis();

/**
 * Wall time from the ingest of the event that fires the alert to its delivery, on a manual
 * clock ticked each second as the detector's timer does.
 */
async function delay(skewMs: number, store: 'memory' | 'redis'): Promise<number> {
  const clock = new ManualClock(NOW);
  let firedAt: number | undefined;
  const ingestedAt = new Map<string, number>();
  let firingEvent: string | undefined;
  const engine = new DetectionEngine({
    rules: defaultRules(),
    allowedLatenessMs: LATENESS,
    clock,
    maxFutureSkewMs: 3_600_000,
    ...(store === 'redis'
      ? {
          state: new RedisDetectionState({
            redis: db.redis,
            ruleset: freshRuleset('skew'),
            commandTimeoutMs: 5_000,
            now: () => clock.now(),
          }),
        }
      : {}),
    onAlert: (a) => {
      if (a.status !== 'firing' || firedAt !== undefined) return;
      firedAt = clock.now();
      firingEvent = a.evidence.at(-1);
    },
  });
  const step = async (): Promise<void> => {
    clock.advance(TICK);
    engine.tick();
    await engine.forceFlush();
  };
  engine.tick();
  for (let i = 0; i < 12; i++) {
    const id = `EVT-${i}`;
    ingestedAt.set(id, clock.now());
    engine.ingest(injectionBlock(id, 'mallory', clock.now() + skewMs));
    await engine.forceFlush();
    await step();
  }
  while (firedAt === undefined && clock.now() < NOW + skewMs + 10 * 60_000) await step();
  await engine.shutdown();
  expect(firedAt).toBeDefined();
  return firedAt! - ingestedAt.get(firingEvent!)!;
}

describe('alert delay with the detector clock behind the senders', () => {
  for (const store of ['memory', 'redis'] as const) {
    it(`${store}: at most the skew later than with clocks in step`, async () => {
      // In step: the lateness (the event waits for event time to pass it by that much).
      const base = await delay(0, store);
      expect(base).toBeLessThanOrEqual(LATENESS + TICK);
      // Ahead: the event also waits for the clock to reach it; measured 6 s, 35 s, 305 s
      // (the skew exactly), and never more than the skew.
      for (const skew of [1_000, 30_000, 300_000]) {
        const d = await delay(skew, store);
        expect(d - base).toBeLessThanOrEqual(skew);
        expect(d - base).toBeGreaterThanOrEqual(skew - TICK);
      }
    }, 60_000);
  }
});
