/**
 * maxFutureSkewMs on the in-memory engine: event time only moves forward, so one event stamped
 * years ahead (a sender's broken clock, a forged record) raised the watermark past every real
 * event, and a real attack after it was dropped as late: no alert until that time came. The
 * shared state had the bound (RedisDetectionState.maxFutureSkewMs); live in-memory detection
 * (the detector service without Redis) did not.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '@llmsec/core';
import { DetectionEngine } from '../src/index.ts';
import { injectionBlock } from './helpers.ts';

const NOW = Date.parse('2026-12-05T10:00:00.000Z');
const HOUR = 3_600_000;

/** One event from `forger` stamped `aheadMs` past the clock, then mallory's 12 blocks a second apart. */
function run(options: { maxFutureSkewMs?: number }, aheadMs: number) {
  const clock = new ManualClock(NOW);
  const alerts: string[] = [];
  const engine = new DetectionEngine({
    clock,
    allowedLatenessMs: 0,
    ...options,
    onAlert: (a) => alerts.push(`${a.rule} ${a.status} ${a.user_ids.join(',')}`),
  });
  engine.ingest(injectionBlock('EVT-forged', 'forger', NOW + aheadMs));
  for (let i = 0; i < 12; i++) {
    clock.advance(1_000);
    engine.ingest(injectionBlock(`EVT-${i}`, 'mallory', clock.now()));
  }
  engine.flush();
  return { alerts, stats: engine.stats };
}

describe('DetectionEngine maxFutureSkewMs', () => {
  it('an event stamped 10 years ahead is dropped and counted; the attack after it alerts', () => {
    const { alerts, stats } = run({ maxFutureSkewMs: HOUR }, 10 * 365 * 24 * HOUR);
    expect(alerts).toContain('rapid_guardrail_blocks firing mallory');
    expect(stats.droppedFuture).toBe(1);
    expect(stats.droppedLate).toBe(0);
    expect(stats.processed).toBe(12);
  });

  it('an event within the skew is held until the clock reaches it; the events behind it are not late', () => {
    // Before, it raised event time to its own: 12 late, no alert, and a sender could renew
    // that every bound's worth of time (one record an hour blinded the engine for good).
    const { alerts, stats } = run({ maxFutureSkewMs: HOUR }, 30 * 60_000);
    expect(stats.droppedFuture).toBe(0);
    expect(stats.droppedLate).toBe(0);
    expect(alerts).toContain('rapid_guardrail_blocks firing mallory');
    // processed at the end of input (flush), after mallory's, in event-time order
    expect(stats.processed).toBe(13);
  });

  it('a sender whose clock runs 6 s fast does not make the others late (lateness 5 s)', () => {
    const clock = new ManualClock(NOW);
    const engine = new DetectionEngine({ clock, allowedLatenessMs: 5_000, maxFutureSkewMs: HOUR });
    for (let i = 0; i < 60; i++) {
      clock.advance(1_000);
      engine.ingest(injectionBlock(`EVT-fast-${i}`, 'fast', clock.now() + 6_000));
      engine.ingest(injectionBlock(`EVT-${i}`, 'u', clock.now() - 200));
    }
    engine.flush();
    expect(engine.stats.droppedLate).toBe(0);
    expect(engine.stats.processed).toBe(120);
  });

  it('tick() does not move event time past the clock either', () => {
    const clock = new ManualClock(NOW);
    const alerts: string[] = [];
    const engine = new DetectionEngine({
      clock,
      allowedLatenessMs: 2_000,
      maxFutureSkewMs: HOUR,
      onAlert: (a) => alerts.push(`${a.rule} ${a.status} ${a.user_ids.join(',')}`),
    });
    engine.tick();
    engine.ingest(injectionBlock('EVT-forged', 'forger', NOW + 50 * 60_000));
    clock.advance(60_000); // a quiet minute: tick moves event time on by it
    engine.tick();
    for (let i = 0; i < 12; i++) {
      clock.advance(1_000);
      engine.ingest(injectionBlock(`EVT-${i}`, 'mallory', clock.now()));
    }
    clock.advance(5_000);
    engine.tick();
    expect(engine.stats.droppedLate).toBe(0);
    expect(alerts).toContain('rapid_guardrail_blocks firing mallory');
  });

  it('events ahead of the clock past maxBufferedEvents are dropped as future, not let raise event time', () => {
    const clock = new ManualClock(NOW);
    const alerts: string[] = [];
    const engine = new DetectionEngine({
      clock,
      allowedLatenessMs: 2_000,
      maxBufferedEvents: 50,
      maxFutureSkewMs: HOUR,
      onAlert: (a) => alerts.push(`${a.rule} ${a.status} ${a.user_ids.join(',')}`),
    });
    for (let i = 0; i < 200; i++) engine.ingest(injectionBlock(`EVT-f${i}`, 'forger', NOW + 30 * 60_000 + i));
    for (let i = 0; i < 12; i++) {
      clock.advance(1_000);
      engine.ingest(injectionBlock(`EVT-${i}`, 'mallory', clock.now()));
    }
    clock.advance(3_000);
    engine.advanceTo(clock.now());
    expect(engine.stats.droppedLate).toBe(0);
    expect(engine.stats.droppedFuture).toBeGreaterThanOrEqual(150);
    expect(alerts).toContain('rapid_guardrail_blocks firing mallory');
  });

  it('off by default with a manual clock: event time is the caller’s (replays of generated logs, tests)', () => {
    const { alerts, stats } = run({}, 10 * 365 * 24 * HOUR);
    expect(stats.droppedFuture).toBe(0);
    expect(stats.droppedLate).toBe(12);
    expect(alerts).not.toContain('rapid_guardrail_blocks firing mallory');
  });

  describe('a live engine (its own timer, the system clock)', () => {
    /** The forged event then mallory's 12 blocks, stamped by the wall clock as a host's SDK does. */
    async function live(options: { maxFutureSkewMs?: number; tickIntervalMs?: number }) {
      const alerts: string[] = [];
      const engine = new DetectionEngine({
        allowedLatenessMs: 0,
        ...options,
        onAlert: (a) => alerts.push(`${a.rule} ${a.status} ${a.user_ids.join(',')}`),
      });
      engine.ingest(injectionBlock('EVT-forged', 'forger', Date.now() + 10 * 365 * 24 * HOUR));
      for (let i = 0; i < 12; i++) engine.ingest(injectionBlock(`EVT-${i}`, 'mallory', Date.now() + i));
      engine.flush();
      const stats = engine.stats;
      await engine.shutdown();
      return { alerts, stats };
    }

    it('bounds the skew at 1 h by default: the forged event is dropped, the attack alerts', async () => {
      const { alerts, stats } = await live({ tickIntervalMs: 60_000 });
      expect(stats.droppedFuture).toBe(1);
      expect(stats.droppedLate).toBe(0);
      expect(alerts).toContain('rapid_guardrail_blocks firing mallory');
    });

    it('an event 59 minutes ahead is within the default bound; 61 minutes is not', async () => {
      for (const [aheadMin, dropped] of [
        [59, 0],
        [61, 1],
      ] as const) {
        const engine = new DetectionEngine({ tickIntervalMs: 60_000 });
        engine.ingest(injectionBlock('EVT-ahead', 'u', Date.now() + aheadMin * 60_000));
        expect(engine.stats.droppedFuture, `${aheadMin} min`).toBe(dropped);
        await engine.shutdown();
      }
    });

    it('maxFutureSkewMs: Infinity turns it off; no timer leaves it off', async () => {
      for (const options of [{ tickIntervalMs: 60_000, maxFutureSkewMs: Infinity }, {}]) {
        const { stats } = await live(options);
        expect(stats.droppedFuture, JSON.stringify(options)).toBe(0);
        expect(stats.droppedLate, JSON.stringify(options)).toBe(12);
      }
    });
  });

  it('rejects a negative or NaN bound', () => {
    expect(() => new DetectionEngine({ maxFutureSkewMs: -1 })).toThrow(RangeError);
    expect(() => new DetectionEngine({ maxFutureSkewMs: Number.NaN })).toThrow(RangeError);
  });
});
