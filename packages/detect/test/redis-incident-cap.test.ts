import type { Cluster, Redis } from 'ioredis';
import { expect } from 'vitest';
import type { Alert } from '@llmsec/core';
import { defaultRules, DetectionEngine, RedisDetectionState } from '../src/index.ts';
import { ev, MIN, SEC, T0 } from './helpers.ts';
import { standaloneAndCluster, type TwoClients } from './redis-two-clients.ts';

/**
 * maxOpenIncidentsPerRule across a fleet: ids an attacker invents (each firing the rule, which
 * costs real traffic) cannot push incidents that exist out of the resolve index. Alice's and
 * Bob's incidents are open; another process then sees 40 invented users fire the same rule with
 * the cap at 3: one more incident opens, 39 are refused a slot (counted) and open in that
 * process's overflow tier instead (each fires once, and resolves), and Alice and Bob stay
 * listed and are resolved by the sweep on time. Before 0dfdd80, the index's cap evicted the
 * soonest due (Alice and Bob), which then resolved only on a new event of their group; from it
 * to the overflow tier, the 39 sent no firing line. The in-memory engine, given the same
 * events, refuses the same number and keeps the same two.
 */

const LATENESS = 5 * SEC;
const RULE = 'rapid_guardrail_blocks';
const CAP = 3;
const INVENTED = Array.from({ length: 40 }, (_, i) => `invented${i}`);

/** Ten blocks a second of each user, from `from`, users interleaved. */
function blocks(users: string[], from: number): { event: ReturnType<typeof ev>['event']; t: number }[] {
  const out: { event: ReturnType<typeof ev>['event']; t: number }[] = [];
  for (let s = 0; s < 10; s++) {
    for (const user of users) {
      out.push(ev({ at: from + s * SEC, category: 'guardrail_block', user, id: `${user}-${s}` }));
    }
  }
  return out;
}

const REAL = blocks(['alice', 'bob'], T0);
const FLOOD = blocks(INVENTED, T0 + 20 * SEC);
const END = T0 + 29 * SEC + LATENESS;
const QUIET_END = END + 11 * MIN;

function engineOn(redis: Redis | Cluster, ruleset: string): { engine: DetectionEngine; alerts: Alert[] } {
  const alerts: Alert[] = [];
  const state = new RedisDetectionState({
    redis,
    ruleset,
    commandTimeoutMs: 5_000,
    shutdownGraceMs: 0,
    maxOpenIncidentsPerRule: CAP,
  });
  const engine = new DetectionEngine({
    rules: defaultRules(),
    allowedLatenessMs: LATENESS,
    state,
    onAlert: (a) => alerts.push(a),
  });
  return { engine, alerts };
}

const users = (alerts: Alert[], status: string) =>
  alerts
    .filter((a) => a.rule === RULE && a.status === status)
    .map((a) => a.labels.user_id!)
    .sort();

async function floodAgainstOpenIncidents(clients: TwoClients, ruleset: string) {
  const a = engineOn(clients[0], ruleset);
  const b = engineOn(clients[1], ruleset);
  for (const { event, t } of REAL) a.engine.ingest(event, t);
  a.engine.advanceTo(T0 + 9 * SEC + LATENESS);
  await a.engine.forceFlush();
  for (const { event, t } of FLOOD) b.engine.ingest(event, t);
  b.engine.advanceTo(END);
  await b.engine.forceFlush();

  // Every incident fired once: Alice, Bob and the 40 invented users.
  const fired = users([...a.alerts, ...b.alerts], 'firing');
  expect(fired).toEqual(['alice', 'bob', ...INVENTED].sort());
  expect(b.engine.stats.state?.incidentsRefused).toBe(INVENTED.length - 1);
  // Its deprecated name (indexEvicted, before 0dfdd80) counts the same, as incidentsEvicted does.
  expect(b.engine.stats.state?.indexEvicted).toBe(INVENTED.length - 1);
  expect(a.engine.stats.state?.indexEvicted).toBe(a.engine.stats.state?.incidentsRefused);
  expect(b.engine.stats.incidentsRefused).toBe(INVENTED.length - 1);
  expect(b.engine.stats.overflowResolvedEarly).toBe(0);
  // The fleet's open set (the Redis index) holds the cap: Alice, Bob and one newcomer. Process b
  // lists its overflow incidents beside them; a, which holds none, only the fleet's.
  const fleet = (await a.engine.openIncidents()).map((x) => x.labels.user_id!).sort();
  expect(fleet).toHaveLength(CAP);
  expect(fleet.slice(0, 2)).toEqual(['alice', 'bob']);
  expect((await b.engine.openIncidents()).map((x) => x.labels.user_id!).sort()).toEqual(fired);

  // The memory engine on the same events: the same number open and refused, the same two kept.
  const memory: Alert[] = [];
  const one = new DetectionEngine({
    rules: defaultRules(),
    allowedLatenessMs: LATENESS,
    maxOpenIncidentsPerRule: CAP,
    onAlert: (x) => memory.push(x),
  });
  for (const { event, t } of [...REAL, ...FLOOD]) one.ingest(event, t);
  one.advanceTo(END);
  expect(users(memory, 'firing')).toEqual(fired);
  expect(one.stats.incidentsRefused).toBe(INVENTED.length - 1);

  // Quiet: the sweep of either process resolves the fleet's three on time, Alice and Bob
  // included, and b's round its overflow incidents: every firing line has its resolved line.
  b.engine.advanceTo(QUIET_END);
  await b.engine.forceFlush();
  expect(users([...a.alerts, ...b.alerts], 'resolved')).toEqual(fired);
  expect(await a.engine.openIncidents()).toEqual([]);
  expect(await b.engine.openIncidents()).toEqual([]);
  one.advanceTo(QUIET_END);
  expect(users(memory, 'resolved')).toEqual(users(memory, 'firing'));
  await Promise.all([a.engine.shutdown(), b.engine.shutdown()]);
}

standaloneAndCluster(
  'RedisDetectionState: invented ids cannot evict open incidents (at the cap the newcomers fire from the overflow tier, Alice and Bob stay indexed and resolve)',
  'cap',
  floodAgainstOpenIncidents,
);
