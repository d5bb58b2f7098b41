// A mixed-version fleet during a rolling upgrade across 56521ef: the incident's stored state goes
// through the real codec between this incident.ts and the one of 76b59a7 (copied beside this
// file), each extending it in turn. Checks what the README's rolling-upgrade note claims.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRule } from '../src/compile.ts';
import { Incident, type IncidentState } from '../src/incident.ts';
import { decodeState, encodeState } from '../src/state/codec.ts';
import type { RuleDefinition } from '../src/types.ts';
import { Incident as OldIncident, type IncidentState as OldState } from './incident-76b59a7.ts';

const rule = compileRule(
  {
    id: 'r',
    title: 'r',
    severity: 'warning',
    match: { categories: ['c'] },
    window_ms: 60_000,
    condition: { kind: 'single' },
  } as RuleDefinition,
  0,
  { maxEventsPerWindow: 100, maxDistinctValues: 100 },
);

type Ev = [id: string, trace: string | undefined];
type Either = Incident | OldIncident;

const id = (i: number): string => `EVT-${String(i).padStart(12, '0')}`;
const tr = (i: number): string => String(i).padStart(32, '0');

/** Through Redis: the text one version writes, decoded by the other. */
function moveTo(inc: Either, toNew: boolean): Either {
  const text = encodeState(inc.toState());
  return toNew
    ? Incident.fromState(rule, 'k', decodeState<IncidentState>(text), 10)
    : OldIncident.fromState(rule as never, 'k', decodeState<OldState>(text), 10);
}

const line = (inc: Either) => inc.toAlert('firing', undefined);

/** Segments of distinct events (no repeats: 76b59a7 never took a trace from one), each run by a version. */
const arbFleet = fc.record({
  traces: fc.array(fc.option(fc.integer({ min: 0, max: 25 }), { nil: undefined }), {
    minLength: 1,
    maxLength: 30,
    size: 'max',
  }),
  cuts: fc.array(fc.nat(30), { maxLength: 4 }),
  firstNew: fc.boolean(),
});

describe('mixed-version fleet: trace ids across 76b59a7 and this incident.ts', () => {
  it('an older replica reads a new state: its line lists the same trace_ids; nothing throws; evidence agrees', () => {
    fc.assert(
      fc.property(arbFleet, ({ traces, cuts, firstNew }) => {
        const events: Ev[] = traces.map((t, i) => [id(i + 1), t === undefined ? undefined : tr(t)]);
        const bounds = [...new Set([0, ...cuts.map((c) => Math.min(c, events.length)), events.length])].sort(
          (a, b) => a - b,
        );
        let isNew = firstNew;
        let inc: Either = isNew
          ? new Incident(rule, 'k', 0, 'd', 10)
          : new OldIncident(rule as never, 'k', 0, 'd', 10);
        const seen = new Set<string>();
        for (let s = 0; s + 1 < bounds.length; s++) {
          if (s > 0) {
            const before = line(inc);
            const wasNew = isNew;
            isNew = !isNew;
            inc = moveTo(inc, isNew);
            const after = line(inc);
            expect(after.evidence).toEqual(before.evidence);
            // The note's claim: tr is the alert's trace_ids, read as such by an older replica.
            if (wasNew && !isNew) expect(after.trace_ids).toEqual(before.trace_ids);
          }
          for (const [e, t] of events.slice(bounds[s], bounds[s + 1])) {
            inc.addEvidence(e, t);
            if (t !== undefined) seen.add(t);
          }
          const l = line(inc);
          for (const t of l.trace_ids ?? []) expect(seen.has(t)).toBe(true);
          expect((l.trace_ids ?? []).length).toBeLessThanOrEqual(10);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a state an older replica wrote loads exactly while the evidence has not rolled (at most 10 events)', () => {
    fc.assert(
      fc.property(arbFleet, fc.nat(10), ({ traces }, k) => {
        const events: Ev[] = traces
          .slice(0, 10)
          .map((t, i) => [id(i + 1), t === undefined ? undefined : tr(t)]);
        const cut = Math.min(k, events.length);
        // New, then old (drops et, appends traces), then new again: as if all had been new.
        const ref = new Incident(rule, 'k', 0, 'd', 10);
        for (const [e, t] of events) ref.addEvidence(e, t);
        let inc: Either = new Incident(rule, 'k', 0, 'd', 10);
        for (const [e, t] of events.slice(0, cut)) inc.addEvidence(e, t);
        inc = moveTo(inc, false);
        for (const [e, t] of events.slice(cut)) inc.addEvidence(e, t);
        inc = moveTo(inc, true);
        expect(line(inc).evidence).toEqual(line(ref).evidence);
        expect(line(inc).trace_ids).toEqual(line(ref).trace_ids);
      }),
      { numRuns: 500 },
    );
  });
});
