import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Alert, SecurityEvent } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { canonical, freshRuleset, memoryAlerts, type Timed } from './redis-support.ts';
import { incidentLines, rounds, untie } from './redis-split.ts';
import { build, draw, TIGHT } from './streams.ts';

/**
 * An alert line's trace_ids are the distinct trace ids of that line's evidence, in evidence
 * order (docs/formats.md), on the firing, update and resolved lines alike: in memory, and with
 * the incident stored in Redis and extended by another engine (its evidence and traces go
 * through the shared state's codec at every step). Every condition kind, monotonic ones
 * included (their window keeps its events' trace ids since they became evidence: before, their
 * lines listed only the traces from the opening event on).
 */

const db = useRedis({ clients: 2 });
const LATENESS = 30_000;
/** Trace ids on most events, shared by a few, none on some. */
function traced(stream: Timed[], traces: number[]): Timed[] {
  return stream.map(({ event, t }, i) => {
    const pick = traces[i % traces.length]!;
    const out: SecurityEvent = { ...event };
    if (pick > 0) out.trace_id = pick.toString(16).padStart(32, '0');
    return { event: out, t };
  });
}

function checkLines(alerts: Alert[], stream: Timed[]): number {
  const traceOf = new Map(stream.map(({ event }) => [event.event_id, event.trace_id]));
  let withTraces = 0;
  for (const a of alerts) {
    const want: string[] = [];
    for (const id of a.evidence) {
      const t = traceOf.get(id);
      if (t !== undefined && !want.includes(t) && want.length < 10) want.push(t);
    }
    const got = a.trace_ids ?? [];
    if (a.trace_ids !== undefined) {
      expect(a.trace_ids.length).toBeGreaterThan(0);
      withTraces++;
    }
    expect(got, `${a.rule} ${a.status} ${a.evidence.join(',')}`).toEqual(want);
  }
  return withTraces;
}

interface Recording {
  engine: DetectionEngine;
  alerts: Alert[];
  updates: Alert[];
}

/** An engine that records its lines and its updates (a user joining an open incident). */
function recording(state?: RedisDetectionState): Recording {
  const alerts: Alert[] = [];
  const updates: Alert[] = [];
  const engine = new DetectionEngine({
    rules: TIGHT,
    allowedLatenessMs: LATENESS,
    ...(state !== undefined ? { state } : {}),
    onAlert: (a) => alerts.push(a),
    onUpdate: (a) => updates.push(a),
  });
  return { engine, alerts, updates };
}

async function runSplit(engines: Recording[], stream: Timed[], splits: number[]) {
  let i = 0;
  for (const round of rounds(stream, LATENESS)) {
    for (const { event, t } of round)
      engines[splits[i++ % splits.length]! % engines.length]!.engine.ingest(event, t);
    await Promise.all(engines.map((e) => e.engine.forceFlush()));
  }
  for (const e of engines) e.engine.flush();
  await Promise.all(engines.map((e) => e.engine.forceFlush()));
  for (const e of engines) e.engine.flush();
  await Promise.all(engines.map((e) => e.engine.shutdown()));
}

const arbTraces = fc.array(
  fc.oneof(
    { weight: 1, arbitrary: fc.constant(0) },
    { weight: 4, arbitrary: fc.integer({ min: 1, max: 400 }) },
  ),
  {
    minLength: 1,
    maxLength: 60,
  },
);

describe('alert trace_ids follow each line evidence', () => {
  it('in memory, on random streams of every condition kind (updates too)', () => {
    let lines = 0;
    let updates = 0;
    fc.assert(
      fc.property(
        fc.array(
          draw.map((d) => ({ ...d, user: d.user % 4 })),
          { minLength: 30, maxLength: 300 },
        ),
        arbTraces,
        (draws, traces) => {
          const stream = traced(untie(build(draws)), traces);
          const mem = recording();
          for (const { event, t } of stream) mem.engine.ingest(event, t);
          mem.engine.flush();
          lines += checkLines(mem.alerts, stream);
          updates += checkLines(mem.updates, stream);
        },
      ),
      { numRuns: 60, seed: 13 },
    );
    expect(lines).toBeGreaterThan(100);
    expect(updates).toBeGreaterThan(10);
  });

  it('two engines on one redis-server: the same lines as one memory engine, trace_ids included', async () => {
    let lines = 0;
    let updates = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          draw.map((d) => ({ ...d, user: d.user % 4, jitterMs: d.jitterMs % 25_000 })),
          { minLength: 30, maxLength: 200 },
        ),
        arbTraces,
        fc.array(fc.nat(), { minLength: 1, maxLength: 32 }),
        async (draws, traces, splits) => {
          const stream = traced(untie(build(draws)), traces);
          const want = memoryAlerts(TIGHT, stream, LATENESS);
          const ruleset = freshRuleset('traceids');
          const engines = db.clients.map((redis) =>
            recording(new RedisDetectionState({ redis, ruleset, commandTimeoutMs: 5_000, batchSize: 16 })),
          );
          await runSplit(engines, stream, splits);
          const alerts = engines.flatMap((e) => e.alerts);
          expect(canonical(alerts)).toEqual(canonical(want));
          expect(incidentLines(alerts).problems).toEqual([]);
          lines += checkLines(alerts, stream);
          updates += checkLines(
            engines.flatMap((e) => e.updates),
            stream,
          );
        },
      ),
      { numRuns: 15, seed: 17, endOnFailure: true },
    );
    expect(lines).toBeGreaterThan(30);
    expect(updates).toBeGreaterThan(3);
  });
});
