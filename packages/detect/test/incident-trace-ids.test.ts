// An alert's trace_ids are the distinct trace ids of that line's evidence (docs/formats.md),
// in evidence order: they move on with the evidence's tail, events without a trace id add none,
// and they survive the shared state's round trip, including a state an older replica wrote.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRule } from '../src/compile.ts';
import {
  EVIDENCE_HEAD,
  EVIDENCE_TAIL,
  Incident,
  MAX_TRACE_IDS,
  type IncidentState,
} from '../src/incident.ts';
import type { RuleDefinition } from '../src/types.ts';

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

const id = (i: number): string => `EVT-${String(i).padStart(12, '0')}`;
const tr = (i: number): string => String(i).padStart(32, '0');

function incidentOf(events: Ev[]): Incident {
  const inc = new Incident(rule, 'k', 0, 'd', 10);
  for (const [e, t] of events) inc.addEvidence(e, t);
  return inc;
}

/** The contract written out: evidence (repeats of the last id skipped), first 5 + last 5, their traces. */
function model(events: Ev[]): { evidence: string[]; traceIds: string[] | undefined } {
  const kept: Ev[] = [];
  for (const [e, t] of events) {
    const last = kept[kept.length - 1];
    // A repeat is no new entry, but gives the entry its trace if it had none.
    if (last === undefined || last[0] !== e) kept.push([e, t]);
    else if (last[1] === undefined) last[1] = t;
  }
  const ev =
    kept.length <= EVIDENCE_HEAD + EVIDENCE_TAIL
      ? kept
      : [...kept.slice(0, EVIDENCE_HEAD), ...kept.slice(kept.length - EVIDENCE_TAIL)];
  const traces: string[] = [];
  for (const [, t] of ev)
    if (t !== undefined && !traces.includes(t) && traces.length < MAX_TRACE_IDS) traces.push(t);
  return { evidence: ev.map(([e]) => e), traceIds: traces.length > 0 ? traces : undefined };
}

function lineOf(inc: Incident): { evidence: string[]; traceIds: string[] | undefined } {
  const alert = inc.toAlert('resolved', undefined);
  return { evidence: alert.evidence, traceIds: alert.trace_ids };
}

/** What a replica from before this change wrote: `tr` the first distinct traces ever seen, no `et`. */
function oldState(events: Ev[]): IncidentState {
  const st = incidentOf(events).toState();
  const seen: string[] = [];
  let last = '';
  for (const [e, t] of events) {
    if (e === last) continue;
    last = e;
    if (t !== undefined && !seen.includes(t) && seen.length < MAX_TRACE_IDS) seen.push(t);
  }
  const { et: _dropped, ...rest } = st;
  return { ...rest, tr: seen };
}

const roundTrip = (inc: Incident, st: IncidentState = inc.toState()): Incident =>
  Incident.fromState(rule, 'k', JSON.parse(JSON.stringify(st)) as IncidentState, 10);

const arbEvents = fc
  .array(
    fc.record({ dup: fc.boolean(), trace: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }) }),
    {
      maxLength: 40,
      // fast-check's default size keeps arrays near 10 long: the evidence would rarely roll.
      size: 'max',
    },
  )
  .map((specs) => {
    const out: Ev[] = [];
    let n = 0;
    for (const s of specs) {
      // A repeat of the last id, with this trace or none (as the opening event comes after a
      // condition's evidence that kept no traces); otherwise a new event.
      if (s.dup && out.length > 0)
        out.push([out[out.length - 1]![0], s.trace === undefined ? undefined : tr(s.trace)]);
      else out.push([id(++n), s.trace === undefined ? undefined : tr(s.trace)]);
    }
    return out;
  });

describe('incident trace ids follow the evidence', () => {
  it('rolling past the first 5: the resolved line lists the head and the last 5 events, not 6 and 7', () => {
    const events: Ev[] = [];
    for (let i = 1; i <= 12; i++) events.push([id(i), tr(i)]);
    const inc = incidentOf(events.slice(0, 10));
    expect(lineOf(inc).traceIds).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(tr));
    for (const [e, t] of events.slice(10)) inc.addEvidence(e, t);
    const line = lineOf(inc);
    expect(line.evidence).toEqual([1, 2, 3, 4, 5, 8, 9, 10, 11, 12].map(id));
    expect(line.traceIds).toEqual([1, 2, 3, 4, 5, 8, 9, 10, 11, 12].map(tr));
  });

  it('events without a trace id contribute none; no trace at all means no trace_ids', () => {
    expect(
      lineOf(
        incidentOf([
          [id(1), undefined],
          [id(2), undefined],
        ]),
      ).traceIds,
    ).toBeUndefined();
    const inc = incidentOf([
      [id(1), tr(1)],
      [id(2), undefined],
      [id(3), tr(3)],
    ]);
    expect(lineOf(inc).traceIds).toEqual([tr(1), tr(3)]);
    // Traces rolled out of the tail by traceless events are gone from the line.
    for (let i = 4; i <= 15; i++) inc.addEvidence(id(i), undefined);
    expect(lineOf(inc).traceIds).toEqual([tr(1), tr(3)]);
    for (let i = 16; i <= 20; i++) inc.addEvidence(id(i), i === 18 ? tr(18) : undefined);
    expect(lineOf(inc).traceIds).toEqual([tr(1), tr(3), tr(18)]);
  });

  it('a trace shared by several evidence entries is listed once, at its first entry', () => {
    const inc = incidentOf([
      [id(1), tr(7)],
      [id(2), tr(1)],
      [id(3), tr(7)],
      [id(4), tr(1)],
    ]);
    expect(lineOf(inc).traceIds).toEqual([tr(7), tr(1)]);
    // A repeated event id (the last one) is no new evidence and changes no trace it has.
    inc.addEvidence(id(4), tr(9));
    expect(lineOf(inc).evidence).toEqual([1, 2, 3, 4].map(id));
    expect(lineOf(inc).traceIds).toEqual([tr(7), tr(1)]);
  });

  it("the opening event listed by a condition that keeps no traces (monotonic) gets the event's trace", () => {
    for (const n of [3, 5, 7, 10, 13]) {
      const inc = new Incident(rule, 'k', 0, 'd', 10);
      for (let i = 1; i <= n; i++) inc.addEvidence(id(i), undefined);
      inc.addEvidence(id(n), tr(n));
      expect(lineOf(inc).traceIds).toEqual([tr(n)]);
      inc.addEvidence(id(n + 1), tr(n + 1));
      expect(lineOf(inc).traceIds).toEqual([tr(n), tr(n + 1)]);
    }
  });

  it('matches the contract written out, for any events, before and after a state round trip', () => {
    fc.assert(
      fc.property(arbEvents, fc.nat(40), (events, cut) => {
        const inc = incidentOf(events);
        expect(lineOf(inc)).toEqual(model(events));
        // Stored mid-way, loaded by another replica, extended there: as if it had stayed.
        const k = Math.min(cut, events.length);
        const moved = roundTrip(incidentOf(events.slice(0, k)));
        for (const [e, t] of events.slice(k)) moved.addEvidence(e, t);
        expect(lineOf(moved)).toEqual(model(events));
        expect(moved.toState()).toEqual(inc.toState());
      }),
    );
  });

  it("a new state keeps what an older replica reads: tr is the line's trace_ids, et an extra field", () => {
    const events: Ev[] = [];
    for (let i = 1; i <= 12; i++) events.push([id(i), i % 4 === 0 ? undefined : tr(i % 6)]);
    const inc = incidentOf(events);
    const st = inc.toState();
    expect(st.tr).toEqual(inc.toAlert('firing', undefined).trace_ids);
    expect(st.et).toHaveLength(st.e.length);
    expect(st.et!.map((k) => (k < 0 ? undefined : st.tr[k]))).toEqual(
      model(events).evidence.map((e) => events.find(([x]) => x === e)![1]),
    );
  });

  it('an old-format state (tr only) loads: exact while each of at most 10 events had its own trace', () => {
    const events: Ev[] = [];
    for (let i = 1; i <= 8; i++) events.push([id(i), tr(i)]);
    const loaded = roundTrip(incidentOf(events), oldState(events));
    expect(lineOf(loaded)).toEqual(model(events));
    for (let i = 9; i <= 14; i++) {
      events.push([id(i), tr(i)]);
      loaded.addEvidence(id(i), tr(i));
    }
    expect(lineOf(loaded)).toEqual(model(events));
  });

  it('an old-format state after the evidence rolled: the old line at first, the tail catches up', () => {
    const events: Ev[] = [];
    for (let i = 1; i <= 12; i++) events.push([id(i), tr(i)]);
    const loaded = roundTrip(incidentOf(events), oldState(events));
    // Best effort: the old replica's traces (1-10) until the tail entries are replaced.
    expect(lineOf(loaded).evidence).toEqual(model(events).evidence);
    expect(lineOf(loaded).traceIds).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(tr));
    for (let i = 13; i <= 17; i++) {
      events.push([id(i), tr(i)]);
      loaded.addEvidence(id(i), tr(i));
    }
    expect(lineOf(loaded)).toEqual(model(events));
  });

  it('an old-format state with traceless or repeated traces keeps the set of traces of unrolled evidence', () => {
    fc.assert(
      fc.property(arbEvents, (all) => {
        // An old replica never took a trace from a repeat: its events without the repeats.
        const events = all.filter((e, i) => i === 0 || e[0] !== all[i - 1]![0]);
        const unrolled = model(events).evidence.length < EVIDENCE_HEAD + EVIDENCE_TAIL;
        fc.pre(unrolled);
        const loaded = roundTrip(incidentOf(events), oldState(events));
        expect(lineOf(loaded)).toEqual(model(events));
      }),
    );
  });

  it('a damaged et (wrong length, out of range) falls back or names no trace, never throws', () => {
    const events: Ev[] = [
      [id(1), tr(1)],
      [id(2), tr(2)],
    ];
    const st = incidentOf(events).toState();
    expect(lineOf(roundTrip(incidentOf(events), { ...st, et: [0] })).traceIds).toEqual([tr(1), tr(2)]);
    expect(lineOf(roundTrip(incidentOf(events), { ...st, et: [5, -1] })).traceIds).toBeUndefined();
    expect(lineOf(roundTrip(incidentOf(events), { ...st, et: [1, 0] })).traceIds).toEqual([tr(2), tr(1)]);
  });
});
