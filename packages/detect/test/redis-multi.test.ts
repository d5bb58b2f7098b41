import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, type DetectionEngine, type RuleDefinition } from '../src/index.ts';
import {
  canonical,
  freshRuleset,
  memoryAlerts,
  redisEngine,
  sequences,
  type Timed,
} from './redis-support.ts';
import { incidentLines, rounds, untie } from './redis-split.ts';
import { build, draw, TIGHT, type Draw } from './streams.ts';

/**
 * Differential property test across engines: a random stream split at random over 2-4 engines
 * that share one Redis gives the alerts one in-memory engine gives on the whole stream (same
 * rule, group and status sequences, same alert ids, evidence and users), with exactly one
 * firing and at most one resolved line per incident.
 */

const db = useRedis({ clients: 4 });

const LATENESS = 30_000;

async function runSplit(
  engines: DetectionEngine[],
  stream: Timed[],
  pick: (i: number) => number,
): Promise<void> {
  let i = 0;
  for (const round of rounds(stream, LATENESS)) {
    for (const { event, t } of round) {
      const k = pick(i++);
      engines[k]!.ingest(event, t);
      // Every seventh event also reaches another engine (a retried export, a second feed):
      // it must count once.
      if (i % 7 === 0 && engines.length > 1) engines[(k + 1) % engines.length]!.ingest(event, t);
    }
    await Promise.all(engines.map((e) => e.forceFlush()));
  }
  for (const e of engines) e.flush();
  await Promise.all(engines.map((e) => e.forceFlush()));
  // A second final flush lets every engine sweep incidents another engine's last events made due.
  for (const e of engines) e.flush();
  await Promise.all(engines.map((e) => e.shutdown()));
}

describe('RedisDetectionState: several engines, one Redis', () => {
  const cases: [string, RuleDefinition[], (d: Draw) => Draw][] = [
    ['tight rules (every condition kind)', TIGHT, (d) => ({ ...d, user: d.user % 6 })],
    [
      'default rules',
      defaultRules(),
      (d) => ({ ...d, gapMs: d.gapMs % 8_000, user: d.user < 4 ? 0 : d.user }),
    ],
  ];
  for (const [name, rules, shape] of cases) {
    it(`random streams split over 2-4 engines agree with one memory engine: ${name}`, async () => {
      let firings = 0;
      let duplicates = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            // Jitter within the lateness (less the untie shift): nothing is late for one engine.
            draw.map((d) => shape({ ...d, jitterMs: d.jitterMs % 25_000 })),
            { minLength: 30, maxLength: 250 },
          ),
          fc.integer({ min: 2, max: 4 }),
          fc.array(fc.nat(), { minLength: 1, maxLength: 64 }),
          async (draws, n, splits) => {
            const stream = untie(build(draws));
            const want = memoryAlerts(rules, stream, LATENESS);
            const ruleset = freshRuleset('split');
            const alerts: Alert[] = [];
            const engines = db.clients.slice(0, n).map((c) => {
              const { engine, alerts: own } = redisEngine(c, rules, LATENESS, ruleset, { batchSize: 16 });
              own.push = (...a: Alert[]) => alerts.push(...a);
              return engine;
            });
            await runSplit(engines, stream, (i) => splits[i % splits.length]! % n);
            const late = engines.reduce((s, e) => s + e.stats.droppedLate, 0);
            expect(late).toBe(0);
            duplicates += engines.reduce((s, e) => s + (e.stats.state?.duplicates ?? 0), 0);
            expect(sequences(alerts)).toEqual(sequences(want));
            expect(canonical(alerts)).toEqual(canonical(want));
            expect(incidentLines(alerts).problems).toEqual([]);
            firings += want.length;
          },
        ),
        { numRuns: 25, seed: 11, endOnFailure: true },
      );
      expect(firings).toBeGreaterThan(50);
      expect(duplicates).toBeGreaterThan(20);
    });
  }
});
