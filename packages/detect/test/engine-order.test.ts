import { describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { DetectionEngine, type CodeRule, type RuleDefinition } from '../src/index.ts';
import { runEngine, T0 } from './slab-support.ts';

/**
 * The engine hands rules their events in event-time order (README, Semantics): the slab's
 * shortcuts rely on it (slab/ratio.ts empties a window by its newest time;
 * slab/identical-shared.ts counts a run's times in a ratio window). When the reorder buffer
 * overflows it processes its oldest event early and raises the watermark to it; a newer event
 * (or advanceTo) used to set the watermark back to newest - lateness, below that event, so an
 * event older than one already processed was accepted and processed after it.
 */

function event(id: string, user: string, a = 3): SecurityEvent {
  return {
    event_id: id,
    timestamp: 'unused',
    category: 'c',
    severity: 'info',
    user_id: user,
    metadata: { a, b: 1 },
  } as SecurityEvent;
}

/** Times each event reaches the rules (a code rule that records them). */
function probe(seen: number[]): CodeRule {
  return {
    id: 'order_probe',
    title: 'records processing order',
    severity: 'warning',
    categories: ['c'],
    window_ms: 1_000,
    condition: {
      createState: () => null,
      update: (_s, _e, t) => {
        seen.push(t);
        return false;
      },
      describe: () => '',
    },
  };
}

// Lateness 5 s, one buffered event: u's 100.5 s goes early (overflow, watermark 100.5 s); v's
// events at the watermark drain the buffer; w's 104 s is the newest (newest - lateness: 99 s);
// u's 99.8 s is then older than an event already processed: late.
const LATENESS = 5_000;
const STEPS: [string, string, number][] = [
  ['i1', 'u', T0 + 99_000],
  ['i2', 'u', T0 + 100_500],
  ['o1', 'v', T0 + 100_500],
  ['o2', 'v', T0 + 100_500],
  ['n1', 'w', T0 + 104_000],
  ['i3', 'u', T0 + 99_800],
  ['n2', 'w', T0 + 200_000],
];

describe('event-time order past a reorder-buffer overflow', () => {
  it('never lowers the watermark, so no event reaches the rules before an older one', () => {
    const seen: number[] = [];
    const engine = new DetectionEngine({
      rules: [probe(seen)],
      allowedLatenessMs: LATENESS,
      maxBufferedEvents: 1,
    });
    let watermark = Number.NEGATIVE_INFINITY;
    for (const [id, user, t] of STEPS) {
      engine.ingest(event(id, user), t);
      expect(engine.time.watermark).toBeGreaterThanOrEqual(watermark);
      watermark = engine.time.watermark;
    }
    engine.flush();
    expect(seen).toEqual([...seen].sort((x, y) => x - y));
    expect(engine.stats.droppedLate).toBe(1);
  });

  it('advanceTo does not lower it either', () => {
    const seen: number[] = [];
    const engine = new DetectionEngine({
      rules: [probe(seen)],
      allowedLatenessMs: LATENESS,
      maxBufferedEvents: 1,
    });
    for (const [id, user, t] of STEPS.slice(0, 4)) engine.ingest(event(id, user), t);
    expect(engine.time.watermark).toBe(T0 + 100_500);
    engine.advanceTo(T0 + 104_000);
    expect(engine.time.watermark).toBe(T0 + 100_500);
    engine.ingest(event('i3', 'u'), T0 + 99_800);
    engine.flush();
    expect(seen).toEqual([...seen].sort((x, y) => x - y));
    expect(engine.stats.droppedLate).toBe(1);
  });

  it("gives an identical rule on a ratio rule's window the object path's alerts", () => {
    const def = (id: string, condition: RuleDefinition['condition']): RuleDefinition => ({
      id,
      title: 't',
      severity: 'warning',
      match: { categories: ['c'] },
      group_by: 'user_id',
      window_ms: 1_000,
      condition,
    });
    const rules = [
      def('r', { kind: 'ratio', min_events: 1, field: 'metadata.b', above: 0.5 }),
      def('i', { kind: 'identical', field: 'metadata.a', min_events: 3 }),
    ];
    const stream = STEPS.map(([id, user, t]) => ({ event: event(id, user), t }));
    const limits = { allowedLatenessMs: LATENESS, maxBufferedEvents: 1 };
    const slab = runEngine(stream, rules, limits, false);
    const object = runEngine(stream, rules, limits, true);
    expect(slab.log).toEqual(object.log);
    expect(slab.stats).toEqual(object.stats);
  });

  it("gives a ratio rule (its window emptied by the newest time) the object path's alerts", () => {
    // u: 10 s (early, overflow), 10.5 s x2 (at the watermark), then the newest 14 s (x at
    // 15 s) lowered the watermark to 9-10 s: u's 9.9 s came after 10.5 s, and the slab
    // ratio's newest time (9.9 s) left the window at 11 s while 10.5 s had not.
    const rules: RuleDefinition[] = [
      {
        id: 'r',
        title: 't',
        severity: 'warning',
        match: { categories: ['c'] },
        group_by: 'user_id',
        window_ms: 1_000,
        condition: { kind: 'ratio', min_events: 3, field: 'metadata.b', equals: 1, above: 0.5 },
      },
    ];
    const steps: [string, string, number][] = [
      ['a1', 'u', T0 + 10_000],
      ['a2', 'u', T0 + 10_500],
      ['a3', 'u', T0 + 10_500],
      ['a4', 'u', T0 + 10_500],
      ['x1', 'x', T0 + 15_000],
      ['a5', 'u', T0 + 10_100],
      ['a6', 'u', T0 + 11_400],
      ['a7', 'u', T0 + 11_450],
      ['x2', 'x', T0 + 99_000],
    ];
    const stream = steps.map(([id, user, t]) => ({ event: event(id, user), t }));
    const limits = { allowedLatenessMs: LATENESS, maxBufferedEvents: 1 };
    const slab = runEngine(stream, rules, limits, false);
    const object = runEngine(stream, rules, limits, true);
    expect(slab.log).toEqual(object.log);
    expect(slab.stats).toEqual(object.stats);
  });
});
