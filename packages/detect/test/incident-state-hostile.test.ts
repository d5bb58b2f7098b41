// An incident's stored state (Redis, shared by the fleet) read back as a damaged or hostile
// text would come: fromState never throws on a wrong `tr`/`et`, an alert's trace_ids are only
// strings, at most MAX_TRACE_IDS, and the evidence a state brings back is bounded.
import { describe, expect, it } from 'vitest';
import { compileRule } from '../src/compile.ts';
import {
  EVIDENCE_HEAD,
  EVIDENCE_TAIL,
  Incident,
  MAX_TRACE_IDS,
  type IncidentState,
} from '../src/incident.ts';
import { decodeState } from '../src/state/codec.ts';
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

const id = (i: number): string => `EVT-${String(i).padStart(12, '0')}`;
const tr = (i: number): string => String(i).padStart(32, '0');

/** The state as the codec hands it back from the stored text. */
function load(st: Record<string, unknown>): Incident {
  const text = JSON.stringify({ s: 0, l: 0, d: 'd', x: '', u: [], ...st });
  return Incident.fromState(rule, 'k', decodeState<IncidentState>(text), 10);
}

function checkLine(inc: Incident): void {
  for (const status of ['firing', 'resolved'] as const) {
    const alert = inc.toAlert(status, undefined);
    expect(alert.evidence.length).toBeLessThanOrEqual(EVIDENCE_HEAD + EVIDENCE_TAIL);
    if (alert.trace_ids !== undefined) {
      expect(alert.trace_ids.length).toBeGreaterThan(0);
      expect(alert.trace_ids.length).toBeLessThanOrEqual(MAX_TRACE_IDS);
      for (const t of alert.trace_ids) expect(typeof t).toBe('string');
    }
  }
  const st = inc.toState();
  expect(st.e.length).toBeLessThanOrEqual(EVIDENCE_HEAD + EVIDENCE_TAIL);
  expect(st.et).toHaveLength(st.e.length);
  expect(st.tr.length).toBeLessThanOrEqual(MAX_TRACE_IDS);
}

const e3 = [id(1), id(2), id(3)];

describe('a damaged incident state never throws and stays bounded', () => {
  it('et: longer or shorter than the evidence, negative, -0, NaN, infinite, strings, null, nested', () => {
    const cases: unknown[] = [
      [0, 1, 2, 0],
      [0],
      [-1, -5, 2],
      [-0, 1, 2],
      [{ $n: 'NaN' }, { $n: 'Inf' }, { $n: '-Inf' }],
      ['0', '1', '2'],
      [null, null, 0],
      [[0], { a: 1 }, 1.5],
      'abc',
      { 0: 0, length: 3 },
      null,
      7,
    ];
    for (const et of cases) {
      const inc = load({ e: e3, x: id(3), tr: [tr(1), tr(2), tr(3)], et });
      checkLine(inc);
      expect(inc.evidence()).toEqual(e3);
    }
    // -0 is index 0; an index not an integer in range names no trace.
    expect(load({ e: e3, tr: [tr(1), tr(2), tr(3)], et: [-0, 1.5, 2] }).traceIds()).toEqual([tr(1), tr(3)]);
  });

  it('tr: not an array, missing, or holding anything but strings', () => {
    const cases: unknown[] = [
      undefined,
      null,
      'abcdef',
      42,
      { 0: tr(1) },
      [5, true, { t: 1 }, [tr(1)]],
      [null, tr(2), 7],
    ];
    for (const t of cases) {
      for (const et of [undefined, [0, 1, 2], [-1, 1, 0]]) {
        const st: Record<string, unknown> = { e: e3, x: id(3), tr: t };
        if (et !== undefined) st.et = et;
        let inc: Incident | undefined;
        expect(() => {
          inc = load(st);
        }).not.toThrow();
        checkLine(inc!);
        // Extended by the next replica and written again: still no throw, only strings.
        inc!.addEvidence(id(4), tr(4));
        inc!.addEvidence(id(4), tr(5));
        checkLine(inc!);
        expect(inc!.traceIds()).toContain(tr(4));
      }
    }
    // The strings among them still name their entries.
    expect(load({ e: e3, tr: [null, tr(2), 7] }).traceIds()).toEqual([tr(2)]);
    expect(load({ e: e3, tr: [5, tr(2), 7], et: [1, 0, 2] }).traceIds()).toEqual([tr(2)]);
  });

  it('tr with 100,000 entries and an evidence list of 100,000: bounded, and quick', () => {
    const big = Array.from({ length: 100_000 }, (_, i) => tr(i));
    const ids = Array.from({ length: 100_000 }, (_, i) => id(i));
    // "Quick" in this process's CPU time, not wall time: the loop takes ~0.35 s of CPU, which a
    // load of 14-20 on 2 cores stretched to 1-6 s of wall, so a 5 s wall bound measured the load.
    // A quadratic pass over 100,000 entries (5e9 steps) takes far more than 5 s of CPU.
    const cpu0 = process.cpuUsage();
    for (const st of [
      { e: e3, tr: big },
      { e: e3, tr: big, et: [99_999, 5, 0] },
      { e: ids, x: ids[ids.length - 1], tr: big },
      { e: ids, x: ids[ids.length - 1], tr: big, et: ids.map((_, i) => i) },
    ]) {
      const inc = load(st);
      checkLine(inc);
      // The head and the last entries the state lists, in order.
      const want =
        st.e.length <= EVIDENCE_HEAD + EVIDENCE_TAIL
          ? st.e
          : [...st.e.slice(0, EVIDENCE_HEAD), ...st.e.slice(-EVIDENCE_TAIL)];
      expect(inc.evidence()).toEqual(want);
      inc.addEvidence('EVT-new', tr(-1));
      checkLine(inc);
      expect(inc.evidence()[inc.evidence().length - 1]).toBe('EVT-new');
    }
    const cpu = process.cpuUsage(cpu0);
    expect((cpu.user + cpu.system) / 1e3).toBeLessThan(5_000);
  });

  it('a long stored evidence list loads as its head and last entries, with their traces', () => {
    const ids = Array.from({ length: 14 }, (_, i) => id(i + 1));
    const traces = ids.map((_, i) => tr(i + 1));
    const inc = load({ e: ids, x: ids[13], tr: traces, et: ids.map((_, i) => i) });
    expect(inc.evidence()).toEqual([...ids.slice(0, 5), ...ids.slice(9)]);
    expect(inc.traceIds()).toEqual([...traces.slice(0, 5), ...traces.slice(9)]);
    inc.addEvidence(id(15), tr(15));
    expect(inc.evidence()).toEqual([...ids.slice(0, 5), ...ids.slice(10), id(15)]);
    expect(inc.traceIds()).toEqual([...traces.slice(0, 5), ...traces.slice(10), tr(15)]);
  });
});

describe('a stored user list', () => {
  it('is taken up to maxUsers, as addUser keeps it', () => {
    const users = Array.from({ length: 100_000 }, (_, i) => `u${i}`);
    const inc = load({ e: e3, x: id(3), tr: [], u: users });
    expect(inc.users.size).toBe(10);
    expect(inc.toAlert('firing', undefined).user_ids).toEqual(users.slice(0, 10));
    expect(inc.addUser('another')).toBe(false);
  });
});

describe('a stored user or evidence list that is not a list of strings', () => {
  it('u: missing, not an array, or holding anything but strings: no throw, only string users', () => {
    const cases: unknown[] = [undefined, null, 42, 'abc', { 0: 'a' }, [5, null, { u: 1 }, ['x'], 'alice']];
    for (const u of cases) {
      let inc: Incident | undefined;
      expect(() => {
        inc = Incident.fromState(
          rule,
          'k',
          decodeState<IncidentState>(JSON.stringify({ s: 0, l: 0, d: 'd', x: '', e: e3, tr: [], u })),
          10,
        );
      }).not.toThrow();
      checkLine(inc!);
      for (const user of inc!.toAlert('firing', undefined).user_ids) expect(typeof user).toBe('string');
      expect(inc!.users.size).toBe(Array.isArray(u) ? 1 : 0);
    }
  });

  it('e: missing or not an array: no evidence, no throw', () => {
    for (const e of [undefined, null, 42, 'EVT-abc', { 0: id(1), length: 1 }]) {
      let inc: Incident | undefined;
      expect(() => {
        inc = Incident.fromState(
          rule,
          'k',
          decodeState<IncidentState>(
            JSON.stringify({ s: 0, l: 0, d: 'd', x: '', e, tr: [tr(1)], et: [0], u: ['a'] }),
          ),
          10,
        );
      }).not.toThrow();
      checkLine(inc!);
      expect(inc!.evidence()).toEqual([]);
    }
  });

  it('d or x not a string: the line still has a string description (a required field)', () => {
    for (const bad of [undefined, null, 42, ['d'], { d: 1 }]) {
      const inc = load({ d: bad, x: bad, e: e3, tr: [tr(1)], et: [0, -1, -1] });
      checkLine(inc);
      expect(typeof inc.toAlert('firing', undefined).description).toBe('string');
      expect(typeof inc.toState().d).toBe('string');
      expect(typeof inc.toState().x).toBe('string');
      // A new event after a damaged x is new evidence, as usual.
      inc.addEvidence(id(4), tr(4));
      expect(inc.evidence()).toEqual([...e3, id(4)]);
    }
  });
});

describe('a state this version wrote', () => {
  it('with 10 evidence entries (and after an 11th event) round-trips unchanged', () => {
    for (const n of [9, 10, 11, 12, 17]) {
      const inc = new Incident(rule, 'k', 0, 'd', 10);
      for (let i = 1; i <= n; i++) inc.addEvidence(id(i), i % 3 === 0 ? undefined : tr(i));
      inc.addUser('a');
      const st = inc.toState();
      const back = Incident.fromState(rule, 'k', decodeState<IncidentState>(JSON.stringify(st)), 10);
      expect(back.toState()).toEqual(st);
      expect(back.toAlert('firing', undefined)).toEqual(inc.toAlert('firing', undefined));
      inc.addEvidence(id(n + 1), tr(n + 1));
      back.addEvidence(id(n + 1), tr(n + 1));
      expect(back.toState()).toEqual(inc.toState());
    }
  });
});
