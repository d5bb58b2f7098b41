import { expect } from 'vitest';
import type { Alert } from '@llmsec/core';
import type { Cluster, Redis } from 'ioredis';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { splitVersion } from '../src/state/redis-state.ts';
import { decodeState } from '../src/state/codec.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { standaloneAndCluster, type TwoClients } from './redis-two-clients.ts';

/**
 * A stored group whose writer times (`x`, one per rule list) or projection tags (`f`) are not a
 * map: a number, a string, a list, null, written by a bug in another replica or by hand. The
 * step threw on them (`x[writer] = ...` on a number, `delete` on a string), so every round that
 * touched the group failed and the engine went degraded, and back, and again: one bad value
 * switched off fleet detection for every user. A list took the writer time silently and lost
 * it in the JSON (an array's named members are not written), so another release took this
 * one's incidents for a departed rule's. Now such a value is no writer time (as a damaged time
 * is, group-step-foreign.test.ts) or describes no tag, and the group goes on.
 */

const LATENESS = 5 * SEC;

function engineOn(redis: Redis | Cluster, ruleset: string) {
  const alerts: Alert[] = [];
  const state = new RedisDetectionState({ redis, ruleset, commandTimeoutMs: 5_000, shutdownGraceMs: 0 });
  const engine = new DetectionEngine({
    rules: defaultRules(),
    allowedLatenessMs: LATENESS,
    state,
    onAlert: (a) => alerts.push(a),
  });
  return { engine, state, alerts };
}

const blocks = (user: string, from: number) =>
  Array.from({ length: 10 }, (_, s) =>
    ev({ at: from + s * SEC, category: 'guardrail_block', user, id: `${user}-${from + s * SEC}` }),
  );

const DAMAGE: [field: 'x' | 'f', value: unknown][] = [
  ['x', 5],
  ['x', 'soon'],
  ['x', []],
  ['x', null],
  ['f', 5],
  ['f', 'ab'],
  ['f', [1]],
];

async function scenario(clients: TwoClients, ruleset: string): Promise<void> {
  for (const [n, [field, value]] of DAMAGE.entries()) {
    const rs = `${ruleset}-${n}`;
    const first = engineOn(clients[0], rs);
    for (const { event, t } of blocks('alice', T0)) first.engine.ingest(event, t);
    first.engine.advanceTo(T0 + 9 * SEC + LATENESS);
    await first.engine.forceFlush();
    expect(first.alerts.map((a) => [a.status, a.labels.user_id])).toEqual([['firing', 'alice']]);

    // Damage alice's stored group in place (a real compare-and-set, as a replica would write).
    const key = first.state.groupKey(rs, 'user_id', 'alice');
    const [, stored] = await first.state.cas(key, -1, '', 1);
    const [version, text] = splitVersion(String(stored));
    const body = JSON.parse(text) as Record<string, unknown>;
    body[field] = value;
    const [ok] = await first.state.cas(key, version, JSON.stringify(body), 60 * MIN);
    expect(ok).toBe(1);

    // Another process gets alice's next blocks (her group stepped with new pending events) and
    // bob's; time passes every quiet period: fleet detection goes on.
    const other = engineOn(clients[1], rs);
    const later = T0 + 2 * MIN;
    const both = [...blocks('alice', later), ...blocks('bob', later)].sort((a, b) => a.t - b.t);
    for (const { event, t } of both) other.engine.ingest(event, t);
    other.engine.advanceTo(later + 9 * SEC + LATENESS);
    await other.engine.forceFlush();
    // The group as written after the step: its writer time is there to read.
    const [, after] = await other.state.cas(key, -1, '', 1);
    const x = decodeState<{ x: unknown }>(splitVersion(String(after))[1]).x;
    expect({ field, value, x: typeof x === 'object' && x !== null && !Array.isArray(x) }).toEqual({
      field,
      value,
      x: true,
    });
    expect(Object.values(x as object)).toEqual([expect.any(Number)]);
    other.engine.advanceTo(later + 30 * MIN);
    await other.engine.forceFlush();
    const stats = other.engine.stats.state!;
    expect({ field, value, mode: stats.mode, episodes: stats.degradedEpisodes }).toEqual({
      field,
      value,
      mode: 'shared',
      episodes: 0,
    });
    // Alice's incident went on through her new blocks and is resolved once; bob's as usual.
    const firstId = first.alerts[0]!.alert_id;
    expect(
      other.alerts.filter((a) => a.labels.user_id === 'alice').map((a) => [a.alert_id, a.status]),
    ).toEqual([[firstId, 'resolved']]);
    expect(other.alerts.filter((a) => a.labels.user_id === 'bob').map((a) => a.status)).toEqual([
      'firing',
      'resolved',
    ]);
    expect(other.engine.stats.droppedLate).toBe(0);
    expect(await other.engine.openIncidents()).toEqual([]);
    await Promise.all([first.engine.shutdown(), other.engine.shutdown()]);
  }
}

standaloneAndCluster(
  'RedisDetectionState: a stored group with damaged writer times or projection tags',
  'extras-damaged',
  scenario,
);
