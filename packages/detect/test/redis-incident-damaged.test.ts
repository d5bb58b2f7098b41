import { expect } from 'vitest';
import type { Alert } from '@llmsec/core';
import type { Cluster, Redis } from 'ioredis';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { splitVersion } from '../src/state/redis-state.ts';
import { ruleIndexKey } from './redis-support.ts';
import { ruleStateId } from '../src/state/rule-identity.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { standaloneAndCluster, type TwoClients } from './redis-two-clients.ts';

/**
 * A stored incident whose start or last time (`s`, `l`) is not a time (NaN, ±Infinity, a
 * string, null, a number past what a Date holds): written by a bug in another replica or by
 * hand. Before, the process that stepped the group threw formatting it (or wrote a NaN score
 * to the resolve index), every flush failed, and the engine went degraded: one bad value
 * switched off fleet detection for every user. Now the incident is dropped where it is loaded
 * (counted in stats.state.incidentsDamaged) and the group goes on.
 */

const LATENESS = 5 * SEC;
const RULE = 'rapid_guardrail_blocks';

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

/** The damaged values, as they reach the stored text (the codec's tags for non-finite numbers). */
const DAMAGE: [field: 's' | 'l', value: unknown][] = [
  ['s', 'yesterday'],
  ['s', { $n: 'Inf' }],
  ['s', null],
  ['l', { $n: 'NaN' }],
  ['l', { $n: '-Inf' }],
  ['l', 1e300],
  ['l', '1764928800000'],
];

async function scenario(clients: TwoClients, ruleset: string): Promise<void> {
  // Alice blocks again (her group stepped on her events) or not (stepped by the resolve sweep).
  const cases = DAMAGE.flatMap((d) => [true, false].map((again) => [...d, again] as const));
  for (const [n, [field, value, again]] of cases.entries()) {
    const rs = `${ruleset}-${n}`;
    const first = engineOn(clients[0], rs);
    for (const { event, t } of blocks('alice', T0)) first.engine.ingest(event, t);
    first.engine.advanceTo(T0 + 9 * SEC + LATENESS);
    await first.engine.forceFlush();
    expect(first.alerts.map((a) => [a.status, a.labels.user_id])).toEqual([['firing', 'alice']]);

    // Damage alice's stored incident in place (a real compare-and-set, as a replica would write).
    const key = first.state.groupKey(rs, 'user_id', 'alice');
    const [, stored] = await first.state.cas(key, -1, '', 1);
    const [version, text] = splitVersion(String(stored));
    const body = JSON.parse(text) as { i: Record<string, Record<string, unknown>> };
    body.i[ruleStateId(defaultRules().find((r) => r.id === RULE)!)]![field] = value;
    const [ok] = await first.state.cas(key, version, JSON.stringify(body), 60 * MIN);
    expect(ok).toBe(1);

    // Another process steps bob's group, and alice's (her next blocks, or the sweep when her
    // incident comes due), and time passes every quiet period: fleet detection goes on.
    const other = engineOn(clients[1], rs);
    const later = T0 + 2 * MIN;
    const both = [...(again ? blocks('alice', later) : []), ...blocks('bob', later)].sort(
      (a, b) => a.t - b.t,
    );
    for (const { event, t } of both) other.engine.ingest(event, t);
    other.engine.advanceTo(later + 9 * SEC + LATENESS);
    await other.engine.forceFlush();
    other.engine.advanceTo(later + 30 * MIN);
    await other.engine.forceFlush();
    const stats = other.engine.stats.state!;
    expect({ field, value, again, mode: stats.mode, episodes: stats.degradedEpisodes }).toEqual({
      field,
      value,
      again,
      mode: 'shared',
      episodes: 0,
    });
    expect(stats.incidentsDamaged).toBe(1);
    // The damaged incident is gone. With its start intact (only `l` damaged) it is told which
    // incident it was: its resolved line, under the firing line's id, ending at the group's
    // event time when it was dropped (so its firing line, and Alertmanager's alert, are ended
    // by the process that dropped it), first for alice. With its start damaged its id cannot
    // be made again: no line. A new one of alice's opens on her new blocks; bob's as usual.
    const firstId = first.alerts[0]!.alert_id;
    const dropped = other.alerts.filter((a) => a.alert_id === firstId);
    if (field === 'l') {
      expect(dropped.map((a) => a.status)).toEqual(['resolved']);
      expect(dropped[0]!.starts_at).toBe(first.alerts[0]!.starts_at);
      const end = Date.parse(dropped[0]!.ends_at!);
      expect(end).toBeGreaterThanOrEqual(T0 + 9 * SEC);
      expect(end).toBeLessThanOrEqual(later + 9 * SEC + LATENESS);
      expect(other.alerts.find((a) => a.labels.user_id === 'alice')).toBe(dropped[0]);
    } else expect(dropped).toEqual([]);
    const rest = other.alerts.filter((a) => a.alert_id !== firstId);
    const lines = rest.map((a) => [a.status, a.labels.user_id]).sort();
    const bob = [
      ['firing', 'bob'],
      ['resolved', 'bob'],
    ];
    expect(lines).toEqual(again ? [['firing', 'alice'], bob[0], ['resolved', 'alice'], bob[1]] : bob);
    expect(await clients[0].zcard(ruleIndexKey(first.state, rs, defaultRules()[0]!))).toBe(0);
    for (const a of rest) expect(Date.parse(a.starts_at)).toBeGreaterThanOrEqual(later);
    expect(other.engine.stats.droppedLate).toBe(0);
    expect(await other.engine.openIncidents()).toEqual([]);
    expect(await first.engine.openIncidents()).toEqual([]);
    await Promise.all([first.engine.shutdown(), other.engine.shutdown()]);
  }
}

standaloneAndCluster('RedisDetectionState: a stored incident with damaged times', 'damaged', scenario);
