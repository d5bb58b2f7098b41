import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { DetectionEngine, RedisDetectionState, defaultRules, type RuleDefinition } from '../src/index.ts';
import { decodeBody } from '../src/state/group-runner.ts';
import { writeStepsWhole } from '../src/state/redis-state.ts';
import { decodeStored, splitStored } from '../src/state/stored-group.ts';
import { ev, SEC, T0 } from './helpers.ts';
import { canonical, freshRuleset, memoryAlerts, sequences, type Timed } from './redis-support.ts';
import { incidentLines, rounds, untie } from './redis-split.ts';
import { build, draw, TIGHT } from './streams.ts';

/**
 * Appended steps (stored-group.ts): a step that only adds pending events is appended to the
 * group's stored value; the release rewrites it whole. Engines that append and engines that
 * write every step whole (the previous writer, kept as an internal switch) share one Redis and
 * still give one memory engine's alerts; appends lose races to releases of other processes and
 * retry; a process killed between its append and the release leaves nothing a survivor cannot
 * release; the previous version's compare-and-set never overwrites an appended value.
 */

const db = useRedis({ clients: 4 });

const LATENESS = 30_000;

interface Counted {
  engine: DetectionEngine;
  alerts: Alert[];
  appends: { sent: number; lost: number };
}

/** An engine on Redis whose state counts its appends (and the ones that lost their compare). */
function engineOn(
  client: (typeof db.clients)[number],
  rules: RuleDefinition[],
  ruleset: string,
  whole: boolean,
) {
  const state = new RedisDetectionState({ redis: client, ruleset, commandTimeoutMs: 5_000, batchSize: 16 });
  writeStepsWhole(state, whole);
  const appends = { sent: 0, lost: 0 };
  const append = state.append.bind(state);
  state.append = async (...args) => {
    const reply = await append(...args);
    appends.sent++;
    if (reply[0] !== 1) appends.lost++;
    return reply;
  };
  const alerts: Alert[] = [];
  const engine = new DetectionEngine({
    rules,
    allowedLatenessMs: LATENESS,
    state,
    onAlert: (a) => alerts.push(a),
  });
  return { engine, alerts, appends } satisfies Counted;
}

async function runSplit(engines: DetectionEngine[], stream: Timed[], pick: (i: number) => number) {
  let i = 0;
  for (const round of rounds(stream, LATENESS)) {
    for (const { event, t } of round) {
      const k = pick(i++);
      engines[k]!.ingest(event, t);
      if (i % 7 === 0) engines[(k + 1) % engines.length]!.ingest(event, t);
    }
    await Promise.all(engines.map((e) => e.forceFlush()));
  }
  for (const e of engines) e.flush();
  await Promise.all(engines.map((e) => e.forceFlush()));
  for (const e of engines) e.flush();
  await Promise.all(engines.map((e) => e.shutdown()));
}

describe('RedisDetectionState: appended steps', () => {
  it('random streams split over 2-4 engines, appending or writing whole, agree with one memory engine', async () => {
    const total = { sent: 0, lost: 0, firings: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          draw.map((d) => ({ ...d, jitterMs: d.jitterMs % 25_000, user: d.user % 4 })),
          { minLength: 30, maxLength: 200 },
        ),
        fc.array(fc.boolean(), { minLength: 2, maxLength: 4 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 64 }),
        async (draws, wholeWriters, splits) => {
          const n = wholeWriters.length;
          const stream = untie(build(draws));
          const want = memoryAlerts(TIGHT, stream, LATENESS);
          const ruleset = freshRuleset('append');
          const engines = wholeWriters.map((whole, k) => engineOn(db.clients[k]!, TIGHT, ruleset, whole));
          await runSplit(
            engines.map((e) => e.engine),
            stream,
            (i) => splits[i % splits.length]! % n,
          );
          const alerts = engines.flatMap((e) => e.alerts);
          expect(engines.reduce((s, e) => s + e.engine.stats.droppedLate, 0)).toBe(0);
          expect(sequences(alerts)).toEqual(sequences(want));
          expect(canonical(alerts)).toEqual(canonical(want));
          expect(incidentLines(alerts).problems).toEqual([]);
          for (const e of engines) {
            total.sent += e.appends.sent;
            total.lost += e.appends.lost;
          }
          total.firings += want.length;
        },
      ),
      { numRuns: 25, seed: 13, endOnFailure: true },
    );
    // The property ran the new path, and appends met other processes' writes (lost and retried).
    expect(total.firings).toBeGreaterThan(50);
    expect(total.sent).toBeGreaterThan(200);
    expect(total.lost).toBeGreaterThan(5);
  }, 300_000);

  it('a process killed between its appends and their release: another releases them; the old writer cannot overwrite them', async () => {
    const ruleset = freshRuleset('append-crash');
    const a = engineOn(db.clients[0]!, defaultRules(), ruleset, false);
    const b = engineOn(db.clients[1]!, defaultRules(), ruleset, false);
    const blocks = Array.from({ length: 10 }, (_, i) =>
      ev({ at: T0 + i * SEC, category: 'guardrail_block', user: 'crashed', id: `cb${i}` }),
    );
    // Two rounds of five: the first writes the new group whole, the second is appended.
    for (const round of [blocks.slice(0, 5), blocks.slice(5)]) {
      for (const { event, t } of round) a.engine.ingest(event, t);
      await a.engine.forceFlush();
    }
    expect(a.appends.sent).toBeGreaterThanOrEqual(1);
    const key = `llmsec:det:{${ruleset}:0:crashed}`;
    const stored = (await db.clients[2]!.get(key))!;
    expect(stored).toMatch(/^\d+\+\|/);
    const [version, text] = splitStored(stored);
    expect(decodeStored(text).q.map((p) => p[2].event_id)).toEqual(blocks.map((b) => b.event.event_id));
    // The previous version's reader cannot decode it, and its compare-and-set never matches:
    // a mixed fleet reports and degrades rather than misreads or overwrites.
    expect(() => decodeBody(text)).toThrow();
    for (const expected of [version, Number.NaN, 0]) {
      const reply = (await db.clients[2]!.eval(OLD_CAS_LUA, 1, key, expected, '{}', 60_000)) as [
        number,
        string,
      ];
      expect(reply[0]).toBe(0);
    }
    expect(await db.clients[2]!.get(key)).toBe(stored);

    // A is gone (never flushed again). B moves event time two latenesses past the 10th block.
    b.engine.advanceTo(T0 + 9 * SEC + LATENESS);
    await b.engine.forceFlush();
    b.engine.advanceTo(T0 + 9 * SEC + 2 * LATENESS);
    await b.engine.forceFlush();
    expect(
      b.alerts
        .filter((x) => x.rule === 'rapid_guardrail_blocks')
        .map((x) => [x.status, x.starts_at, x.user_ids]),
    ).toEqual([['firing', new Date(T0 + 9 * SEC).toISOString(), ['crashed']]]);
    // Released: written whole again, in the format the previous reader reads.
    expect(await db.clients[2]!.get(key)).toMatch(/^\d+\|/);
    await Promise.all([a.engine.shutdown(), b.engine.shutdown()]);
  });
});

/** The compare-and-set script before appended steps (the previous version's, verbatim). */
const OLD_CAS_LUA = `
local cur = redis.call('GET', KEYS[1])
local v = 0
if cur then
  local sep = string.find(cur, '|', 1, true)
  v = tonumber(string.sub(cur, 1, sep - 1))
end
if v ~= tonumber(ARGV[1]) then return {0, cur or ''} end
v = v + 1
redis.call('SET', KEYS[1], v .. '|' .. ARGV[2], 'PX', ARGV[3])
return {1, v}
`;
