import { describe, expect, it } from 'vitest';
import { brief, feed, MIN, recordingEngine, T0, type EventSpec } from './helpers.ts';

/**
 * An overflow incident whose group has a new detection after an open slot freed stays where
 * it is: extended in the overflow tier, not opened a second time in the open set (one firing
 * line and one resolved line for the group). Nothing moves between the tiers.
 */
const LEAK = 'system_prompt_leakage';
const leak = (at: number, user: string): EventSpec => ({ at, category: LEAK, user });

describe('DetectionEngine: an overflow incident after an open slot freed', () => {
  it('is extended, not opened again in the open set', () => {
    const { engine, alerts } = recordingEngine({ maxOpenIncidentsPerRule: 1 });
    // Alice holds the only slot; Mallory's incident opens in the overflow tier.
    feed(engine, [leak(T0, 'alice'), leak(T0 + 5 * MIN, 'mallory')]);
    // Alice's incident resolves at T0 + 10 min (her slot is free); Mallory leaks again while
    // her overflow incident is still open (until T0 + 15 min).
    feed(engine, [leak(T0 + 12 * MIN, 'mallory')]);
    expect(brief(alerts, LEAK)).toEqual([
      `${LEAK}:firing:alice`,
      `${LEAK}:firing:mallory`,
      `${LEAK}:resolved:alice`,
    ]);
    expect(engine.stats.incidentsRefused).toBe(1);
    engine.advanceTo(T0 + 60 * MIN);
    const resolved = alerts.filter((a) => a.labels.user_id === 'mallory' && a.status === 'resolved');
    expect(resolved).toHaveLength(1);
    expect(Date.parse(resolved[0]!.ends_at!)).toBe(T0 + 22 * MIN);
    expect(engine.activeIncidents()).toEqual([]);
  });
});
