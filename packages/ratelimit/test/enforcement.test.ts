import { describe, expect, it } from 'vitest';
import { ManualClock, METRIC_ENFORCEMENT_TRANSITIONS } from '@llmsec/core';
import { RateLimiter } from '../src/limiter.ts';
import { MemoryStore } from '../src/memory-store.ts';
import { recordingEmitter, recordingMeter } from './support.ts';

const MIN = 60_000;

function setup() {
  const clock = new ManualClock(Date.UTC(2026, 10, 22));
  const events = recordingEmitter();
  const metrics = recordingMeter();
  const lim = new RateLimiter({
    store: new MemoryStore({ clock }),
    clock,
    tiers: { t: { requestsPerMinute: 10, concurrent: 4 } },
    enforcement: {
      warningAt: 5,
      throttledAt: 10,
      blockedAt: 20,
      bannedAt: 50,
      halfLifeMs: 10 * MIN,
      blockMs: 5 * MIN,
      throttleFactor: 0.5,
    },
    events,
    meter: metrics.meter,
  });
  const transitions = () =>
    events.events
      .filter((e) => e.category === 'anomalous_pattern')
      .map((e) => `${String(e.input.metadata.previous_level)}->${String(e.input.metadata.level)}`);
  return { clock, lim, events, metrics, transitions };
}

describe('graduated enforcement (state machine, MemoryStore with a manual clock)', () => {
  it('crosses thresholds with >=, so a jump never skips a level', async () => {
    const { lim, transitions } = setup();
    expect(await lim.recordViolation('u', 4.5)).toBe('normal');
    // 4.5 + 0.5 = 5 exactly: warning (a == check on integers would also hit, but 4.5 + 1 would not).
    expect(await lim.recordViolation('u', 0.5)).toBe('warning');
    expect(await lim.recordViolation('u', 5.7)).toBe('throttled'); // 10.7, never exactly 10
    expect(await lim.recordViolation('u', 30)).toBe('blocked'); // 40.7: past blockedAt, short of bannedAt
    expect(await lim.recordViolation('u', 100)).toBe('banned');
    expect(transitions()).toEqual([
      'normal->warning',
      'warning->throttled',
      'throttled->blocked',
      'blocked->banned',
    ]);
  });

  it('decays with the half-life and reports the way back down once each', async () => {
    const { clock, lim, transitions, events } = setup();
    await lim.recordViolation('u', 12); // throttled
    clock.advance(10 * MIN); // 6: warning
    expect((await lim.acquire({ subject: 'u', estimatedTokens: 0 })).level).toBe('warning');
    clock.advance(10 * MIN); // 3: normal
    expect((await lim.acquire({ subject: 'u', estimatedTokens: 0 })).level).toBe('normal');
    expect((await lim.acquire({ subject: 'u', estimatedTokens: 0 })).level).toBe('normal');
    expect(transitions()).toEqual(['normal->throttled', 'throttled->warning', 'warning->normal']);
    const down = events.events.filter((e) => e.category === 'anomalous_pattern').at(-1)!;
    expect(down.input).toMatchObject({
      userId: 'u',
      severity: 'info',
      metadata: { anomaly_type: 'enforcement_normal' },
    });
    expect((await lim.status('u')).violationScore).toBeCloseTo(3, 3);
  });

  it('throttled scales every limit by the throttle factor', async () => {
    const { lim } = setup();
    await lim.recordViolation('u', 10);
    const results = [];
    for (let i = 0; i < 6; i++) {
      const r = await lim.acquire({ subject: 'u', estimatedTokens: 0 });
      results.push(r);
      if (r.lease) await lim.settle(r.lease, { tokens: 0 });
    }
    // rpm 10 * 0.5 = 5.
    expect(results.map((r) => r.reason)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      'rpm',
    ]);
    expect(results[0]!.dimensions).toEqual([
      expect.objectContaining({ dimension: 'rpm', limit: 5 }),
      expect.objectContaining({ dimension: 'concurrent', limit: 2 }),
    ]);
    // concurrent 4 * 0.5 = 2.
    await lim.recordViolation('v', 10);
    const c = await Promise.all([0, 1, 2].map(() => lim.acquire({ subject: 'v', estimatedTokens: 0 })));
    expect(c.map((r) => r.reason)).toEqual([undefined, undefined, 'concurrent']);
  });

  it('blocks for blockMs, then returns to the level the decayed score implies; refusals while blocked add nothing', async () => {
    const { clock, lim, transitions } = setup();
    await lim.recordViolation('u', 19);
    const before = await lim.status('u');
    expect(before.level).toBe('throttled');
    await lim.recordViolation('u', 1); // 20: blocked
    const refused = await lim.acquire({ subject: 'u', estimatedTokens: 0 });
    expect(refused).toMatchObject({
      allowed: false,
      reason: 'blocked',
      level: 'blocked',
      retryAfterMs: 5 * MIN,
    });
    for (let i = 0; i < 50; i++) await lim.acquire({ subject: 'u', estimatedTokens: 0 });
    expect((await lim.status('u')).violationScore).toBeCloseTo(20, 3);
    clock.advance(5 * MIN); // block over; score 20 * 2^-0.5 = 14.1: throttled
    const after = await lim.acquire({ subject: 'u', estimatedTokens: 0 });
    expect(after).toMatchObject({ allowed: true, level: 'throttled' });
    clock.advance(20 * MIN); // 3.5: normal
    expect((await lim.acquire({ subject: 'u', estimatedTokens: 0 })).level).toBe('normal');
    expect(transitions()).toEqual([
      'normal->throttled',
      'throttled->blocked',
      'blocked->throttled',
      'throttled->normal',
    ]);
  });

  it('a new violation while the score is still high blocks again', async () => {
    const { clock, lim } = setup();
    await lim.recordViolation('u', 30); // blocked
    clock.advance(5 * MIN + 1); // 21.2, block over: capped at throttled
    expect((await lim.status('u')).level).toBe('throttled');
    expect(await lim.recordViolation('u', 1)).toBe('blocked');
  });

  it('bans until lifted, whatever the time; lift and reset return to normal', async () => {
    const { clock, lim, transitions, metrics } = setup();
    await lim.recordViolation('u', 60);
    clock.advance(30 * 86_400_000);
    expect(await lim.acquire({ subject: 'u', estimatedTokens: 0 })).toMatchObject({
      allowed: false,
      reason: 'banned',
    });
    expect(await lim.lift('u')).toBe('banned');
    expect(await lim.acquire({ subject: 'u', estimatedTokens: 0 })).toMatchObject({
      allowed: true,
      level: 'normal',
    });
    await lim.ban('w');
    expect((await lim.status('w')).banned).toBe(true);
    await lim.reset('w');
    expect((await lim.status('w')).banned).toBe(false);
    expect(transitions()).toEqual(['normal->banned', 'banned->normal', 'normal->banned']);
    expect(metrics.count(METRIC_ENFORCEMENT_TRANSITIONS, { level: 'banned' })).toBe(2);
    expect(metrics.count(METRIC_ENFORCEMENT_TRANSITIONS, { level: 'normal' })).toBe(1);
  });

  it('refusals by a limit add refusalWeight each and escalate the refusing subject only', async () => {
    const clock = new ManualClock(0);
    const lim = new RateLimiter({
      store: new MemoryStore({ clock }),
      clock,
      tiers: { user: { requestsPerMinute: 100 }, ip: { requestsPerMinute: 1 } },
      defaultTier: 'user',
      secondaryTier: 'ip',
      enforcement: { warningAt: 2, throttledAt: 4, blockedAt: 6, bannedAt: 100, refusalWeight: 2 },
    });
    const levels = [];
    for (let i = 0; i < 5; i++)
      levels.push(
        (await lim.acquire({ subject: `u${i}`, secondarySubject: 'ip:1', estimatedTokens: 0 })).reason,
      );
    expect(levels).toEqual([undefined, 'rpm', 'rpm', 'rpm', 'blocked']);
    expect((await lim.status('ip:1', 'ip')).level).toBe('blocked');
    expect((await lim.status('u1')).violationScore).toBe(0);
  });
});
