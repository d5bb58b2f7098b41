import type { Alert } from '@llmsec/core';
import { describe, expect, it } from 'vitest';
import { block, brief, feed, MIN, recordingEngine, SEC, T0, type EventSpec } from './helpers.ts';

/**
 * A rule at maxOpenIncidentsPerRule still alerts: an incident the cap refuses opens in the
 * process-local overflow tier (maxOverflowIncidentsPerRule), fires as it would have, is extended
 * by its group's events and resolves with a resolved line; a full tier resolves its quiet-longest
 * member early. Before, a refused incident sent no firing line: an attacker who filled the cap
 * with invented ids blinded the rule.
 */
const LEAK = 'system_prompt_leakage';
const leak = (at: number, user: string): EventSpec => ({ at, category: LEAK, user });
const REAL = ['alice', 'bob', 'carol'];
const INVENTED = Array.from({ length: 40 }, (_, i) => `invented-${i}`);

/** Per group label: its firing and resolved lines, in order. */
function lines(alerts: Alert[], rule: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const a of alerts) {
    if (a.rule !== rule) continue;
    const key = Object.values(a.labels)[0]!;
    out.set(key, [...(out.get(key) ?? []), a.status]);
  }
  return out;
}

function flood(maxOverflowIncidentsPerRule?: number) {
  const { engine, alerts } = recordingEngine({
    maxOpenIncidentsPerRule: 3,
    ...(maxOverflowIncidentsPerRule !== undefined ? { maxOverflowIncidentsPerRule } : {}),
  });
  feed(engine, REAL.map((u, i) => leak(T0 + i * SEC, u)));
  feed(engine, INVENTED.map((u, i) => leak(T0 + 10 * SEC + i * 100, u)));
  return { engine, alerts };
}

describe('DetectionEngine: overflow incidents at maxOpenIncidentsPerRule', () => {
  it('fires every one of 43 incidents once with the cap at 3; the three real ones stay open and resolve normally', () => {
    const { engine, alerts } = flood();
    const byUser = lines(alerts, LEAK);
    expect(byUser.size).toBe(43);
    for (const user of [...REAL, ...INVENTED]) expect(byUser.get(user)).toEqual(['firing']);
    expect(engine.stats.alertsFired).toBe(43);
    expect(engine.stats.incidentsRefused).toBe(40);
    expect(engine.stats.overflowResolvedEarly).toBe(0);
    // Open (listed) in both tiers, the real ones included.
    const open = engine.activeIncidents().map((a) => a.labels.user_id);
    expect(open).toHaveLength(43);
    expect(open.slice(0, 3)).toEqual(REAL);
    engine.advanceTo(T0 + 60 * MIN);
    engine.flush();
    const after = lines(alerts, LEAK);
    for (const user of [...REAL, ...INVENTED]) expect(after.get(user)).toEqual(['firing', 'resolved']);
    // The real incidents resolved at the end of their quiet period (10 minutes after the leak).
    for (const [i, user] of REAL.entries()) {
      const resolved = alerts.find((a) => a.status === 'resolved' && a.labels.user_id === user)!;
      expect(Date.parse(resolved.ends_at!)).toBe(T0 + i * SEC + 10 * MIN);
    }
    expect(engine.activeIncidents()).toEqual([]);
  });

  it('with maxOverflowIncidentsPerRule 5 churns the tier: early resolved lines, counted; every firing line gets exactly one resolved line', () => {
    const { engine, alerts } = flood(5);
    const during = lines(alerts, LEAK);
    for (const user of [...REAL, ...INVENTED]) expect(during.get(user)![0]).toBe('firing');
    // 40 into a tier of 5: the 35 quiet longest resolved early, oldest first, when the next came.
    expect(engine.stats.overflowResolvedEarly).toBe(35);
    for (const [i, user] of INVENTED.entries())
      expect(during.get(user)).toEqual(i < 35 ? ['firing', 'resolved'] : ['firing']);
    const early = alerts.find((a) => a.status === 'resolved' && a.labels.user_id === 'invented-0')!;
    // Ends when it was pushed out (invented-5's leak), not at the end of a quiet period.
    expect(Date.parse(early.ends_at!)).toBe(T0 + 10 * SEC + 5 * 100);
    // The open set is untouched: the real three are open, and 5 overflow incidents.
    expect(engine.activeIncidents().map((a) => a.labels.user_id)).toEqual([...REAL, ...INVENTED.slice(35)]);
    expect(engine.stats.alertsFired).toBe(43);
    expect(engine.stats.incidentsRefused).toBe(40);
    engine.advanceTo(T0 + 60 * MIN);
    engine.flush();
    const after = lines(alerts, LEAK);
    for (const user of [...REAL, ...INVENTED]) expect(after.get(user)).toEqual(['firing', 'resolved']);
    expect(engine.stats.alertsResolved).toBe(43);
  });

  it("extends a refused group's overflow incident with its later events: no second firing line", () => {
    const { engine, alerts } = flood(5);
    const last = INVENTED[39]!;
    const later = feed(engine, [leak(T0 + 2 * MIN, last), leak(T0 + 3 * MIN, last)]);
    expect(lines(alerts, LEAK).get(last)).toEqual(['firing']);
    const open = engine.activeIncidents().find((a) => a.labels.user_id === last)!;
    expect(open.evidence).toEqual(expect.arrayContaining(later.map((e) => e.event_id)));
    engine.advanceTo(T0 + 60 * MIN);
    const resolved = alerts.filter((a) => a.labels.user_id === last && a.status === 'resolved');
    expect(resolved).toHaveLength(1);
    // Extended: it resolves 10 minutes after its last leak.
    expect(Date.parse(resolved[0]!.ends_at!)).toBe(T0 + 3 * MIN + 10 * MIN);
    expect(engine.stats.incidentsRefused).toBe(40);
  });

  it('a real attack after a flood of invented ids filled the cap fires (the rule is not blind)', () => {
    const RAPID = 'rapid_guardrail_blocks';
    const run = (maxOverflowIncidentsPerRule?: number) => {
      const { engine, alerts } = recordingEngine({
        maxOpenIncidentsPerRule: 50,
        ...(maxOverflowIncidentsPerRule !== undefined ? { maxOverflowIncidentsPerRule } : {}),
      });
      // 50 invented ids, 10 blocks each: the cap of rapid_guardrail_blocks is full.
      const specs: EventSpec[] = [];
      for (let i = 0; i < 50; i++) for (let j = 0; j < 10; j++) specs.push(block(T0 + i * SEC + j * 10, `fake-${i}`));
      feed(engine, specs);
      expect(engine.stats.alertsFired).toBe(50);
      // Then the real attacker probes the guardrails.
      feed(engine, Array.from({ length: 12 }, (_, j) => block(T0 + MIN + j * SEC, 'mallory')));
      return { engine, mallory: brief(alerts, RAPID).filter((l) => l.endsWith(':mallory')) };
    };
    const now = run();
    expect(now.mallory).toEqual([`${RAPID}:firing:mallory`]);
    expect(now.engine.stats.incidentsRefused).toBe(1);
    // maxOverflowIncidentsPerRule 0 is the refusal of before: no firing line for the attack.
    const off = run(0);
    expect(off.mallory).toEqual([]);
    expect(off.engine.stats.incidentsRefused).toBe(3);
  });

  it('rejects a negative or non-finite maxOverflowIncidentsPerRule', () => {
    expect(() => recordingEngine({ maxOverflowIncidentsPerRule: -1 })).toThrow(/maxOverflowIncidentsPerRule/);
    expect(() => recordingEngine({ maxOverflowIncidentsPerRule: Number.NaN })).toThrow(/maxOverflowIncidentsPerRule/);
  });
});
