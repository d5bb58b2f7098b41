import { expect } from 'vitest';
import type { Alert } from '@llmsec/core';
import { DetectionEngine, RedisDetectionState, type RuleDefinition } from '../src/index.ts';
import { ev, SEC, T0 } from './helpers.ts';
import { memoryAlerts } from './redis-support.ts';
import { standaloneAndCluster, type TwoClients } from './redis-two-clients.ts';

/**
 * An `identical` rule only the newer release runs, in a mix of releases, and a pending event
 * the older release's replica shipped with the rule's field cut (its projection keeps only its
 * own rules' fields). The rule cannot read that event's value. Skipped (1e34e8b: "a miss during
 * the mix, never a false alert"), the run went on across it: 100, [7 unread], 100, 100 fired as
 * three identical values where one engine, reading the 7, broke the run and fired nothing. Now
 * the unread event breaks the run, as an event without a value does; a run that outlives the
 * break by a window fires as in one engine.
 */

const L = 10 * SEC;
const WINDOW = 10 * SEC;

function engineOn(redis: TwoClients[number], rules: RuleDefinition[], ruleset: string) {
  const alerts: Alert[] = [];
  const state = new RedisDetectionState({ redis, ruleset, commandTimeoutMs: 5_000, shutdownGraceMs: 0 });
  const engine = new DetectionEngine({ rules, allowedLatenessMs: L, state, onAlert: (a) => alerts.push(a) });
  return { engine, alerts };
}

/** Both releases run it; it reads no tokens, so the older release's projection cuts them. */
const base: RuleDefinition = {
  id: 'burst',
  title: 'Burst of blocks',
  severity: 'alert',
  match: { categories: ['guardrail_block'] },
  group_by: 'user_id',
  window_ms: 10 * 60 * SEC,
  condition: { kind: 'count', min: 100 },
};
/** Added by the newer release. */
const sameSize: RuleDefinition = {
  id: 'same_size_blocks',
  title: 'Blocks of one size',
  severity: 'warning',
  match: { categories: ['guardrail_block'] },
  group_by: 'user_id',
  window_ms: WINDOW,
  condition: { kind: 'identical', field: 'metadata.tokens', min_events: 3 },
};

const block = (s: number, tokens: number) =>
  ev({ at: T0 + s * SEC, category: 'guardrail_block', user: 'alice', id: `b${s}`, metadata: { tokens } });

const firing = (alerts: Alert[]) =>
  alerts.filter((a) => a.status === 'firing').map((a) => [a.rule, a.starts_at, a.evidence]);

standaloneAndCluster(
  'RedisDetectionState: an identical rule of one release and an event it cannot read',
  'identical-hole',
  async ([a, b], ruleset) => {
    const older = engineOn(a, [base], ruleset);
    const newer = engineOn(b, [base, sameSize], ruleset);
    // 100 (newer), 7 (older: tokens cut), 100, 100, 100 (newer): one engine breaks the run at
    // the 7, and the three after it do not fire while the 7 is in the window. Later, at 12 s,
    // the 7 has left the window and the run fires there.
    const first = block(0, 100);
    const other = block(1, 7);
    const run = [block(2, 100), block(3, 100), block(4, 100)];
    const later = block(12, 100);
    const stream = [first, other, ...run, later];
    const want = memoryAlerts([base, sameSize], stream, L);
    expect(firing(want)).toEqual([['same_size_blocks', new Date(T0 + 12 * SEC).toISOString(), ['b12']]]);

    newer.engine.ingest(first.event, first.t);
    await newer.engine.forceFlush();
    older.engine.ingest(other.event, other.t);
    await older.engine.forceFlush();
    for (const x of run) newer.engine.ingest(x.event, x.t);
    await newer.engine.forceFlush();
    // Everything so far is still pending (the shared clock is 4 s, the lateness 10 s): the
    // newer replica steps it all at the end of input, its rule judging the older one's event.
    newer.engine.ingest(later.event, later.t);
    newer.engine.flush();
    await newer.engine.forceFlush();
    expect(older.alerts).toEqual([]);
    expect(firing(newer.alerts)).toEqual(firing(want));
    await older.engine.shutdown();
    await newer.engine.shutdown();
  },
);
