import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ring, RingLayout, ringEvidence, type RingColumns } from '../src/ring.ts';
import { decodeState, encodeState } from '../src/state/codec.ts';
import { RingV1, ringEvidenceV1 } from './ring-v1.ts';

/**
 * The ring against the one it replaced (a plain array per column): the same entries, oldest
 * first, in every column kept, after any sequence of pushes, shifts and clears; the same
 * evidence; and the same text from the state codec, so states written to Redis before the
 * change read back the same.
 */
type Op = { kind: 'push'; dt: number; value: number; trace: boolean } | { kind: 'shift' } | { kind: 'clear' };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('push' as const),
      dt: fc.integer({ min: 0, max: 5000 }),
      value: fc.integer({ min: 0, max: 99 }),
      trace: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('shift' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const) }) },
);

const columns: fc.Arbitrary<RingColumns> = fc.record({
  ids: fc.boolean(),
  traces: fc.boolean(),
  values: fc.boolean(),
  users: fc.boolean(),
});

function entries(r: Ring): unknown[] {
  return Array.from({ length: r.size }, (_, k) => {
    const p = r.at(k);
    return [r.timeAt(p), r.hasIds ? r.idAt(p) : 0, r.traceAt(p), r.valueAt(p), r.hasUsers ? r.userAt(p) : 0];
  });
}

function entriesV1(r: RingV1): unknown[] {
  return Array.from({ length: r.size }, (_, k) => {
    const p = r.at(k);
    return [
      r.times[p],
      r.ids ? r.ids[p] : 0,
      r.traces?.[p],
      r.values ? r.values[p] : 0,
      r.users ? r.users[p] : 0,
    ];
  });
}

/** The codec's ring text as it was written before (from the per-column arrays). */
function tagV1(r: RingV1): string {
  const k = Array.from({ length: r.size }, (_, i) => r.at(i));
  let prev = 0;
  const times = k.map((i) => {
    const d = r.times[i]! - prev;
    prev = r.times[i]!;
    return d;
  });
  const flags = (r.ids ? 1 : 0) | (r.traces ? 2 : 0) | (r.values ? 4 : 0) | (r.users ? 8 : 0);
  return JSON.stringify({
    $R: [
      r.max,
      flags,
      times,
      r.ids ? k.map((i) => r.ids![i]) : 0,
      r.traces ? k.map((i) => r.traces![i] ?? null) : 0,
      r.values ? k.map((i) => r.values![i]) : 0,
      r.users ? k.map((i) => r.users![i]) : 0,
    ],
  });
}

function evidence(r: Ring | RingV1): unknown[] {
  const out: unknown[] = [];
  if (r instanceof Ring) ringEvidence(r, 2, (...a) => out.push(a));
  else ringEvidenceV1(r, 2, (...a) => out.push(a));
  return out;
}

describe('Ring', () => {
  it('holds what the per-column ring held, and encodes to the same text, for any operations', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        columns,
        fc.array(op, { maxLength: 60 }),
        (max, cols, ops) => {
          const ring = new Ring(new RingLayout(max, cols));
          const ref = new RingV1(max, cols);
          let t = 1_700_000_000_000;
          let seq = 0;
          for (const o of ops) {
            if (o.kind === 'push') {
              t += o.dt;
              const id = `e${seq++}`;
              const trace = o.trace ? `tr${seq}` : undefined;
              ring.push(t, id, trace, o.value, `u${o.value % 3}`);
              ref.push(t, id, trace, o.value, `u${o.value % 3}`);
            } else if (o.kind === 'shift') {
              if (ref.size === 0) continue;
              ring.shift();
              ref.shift();
            } else {
              ring.clear();
              ref.clear();
            }
            expect(ring.size).toBe(ref.size);
            expect(ring.full).toBe(ref.full);
            expect(entries(ring)).toEqual(entriesV1(ref));
            if (ref.size > 0) {
              expect(ring.oldestTime()).toBe(ref.oldestTime());
              expect(ring.valueAt(ring.newestIndex())).toBe(ref.values ? ref.values[ref.newestIndex()] : 0);
            }
            expect(evidence(ring)).toEqual(evidence(ref));
          }
          const text = encodeState(ring);
          expect(text).toBe(tagV1(ref));
          const back = decodeState<Ring>(text);
          expect(entries(back)).toEqual(entries(ring));
          expect(encodeState(back)).toBe(text);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('allocates no storage until the first entry', () => {
    const ring = new Ring(new RingLayout(1000, { values: true, traces: true }));
    expect(ring.size).toBe(0);
    expect(encodeState(ring)).toBe('{"$R":[1000,7,[],[],[],[],0]}');
  });
});
