import { randomUUID } from 'node:crypto';
import type { Alert } from '@llmsec/core';
import type { CompiledRule } from '../compile.ts';
import { alertId, Incident, loadableState } from '../incident.ts';
import type { FleetAlertRef, FleetCheckAnswer, FleetIncidentCheck } from '../sinks/types.ts';
import { fleetIncidents } from './fleet-incidents.ts';
import { decodeBody, type RuleTable } from './group-runner.ts';
import { splitVersion, type RedisDetectionState } from './redis-state.ts';

/** Group states read per batch (pipelined), so a long list does not queue them all at once. */
const READ_BATCH = 500;

export interface FleetCheckOptions {
  state: RedisDetectionState;
  ruleset: string;
  tables: readonly RuleTable[];
  maxUsersPerAlert: number;
  /**
   * The incidents held only in this process (degraded-mode fallback, overflow tier): open
   * whatever Redis says. Read before Redis, so an incident handed back to the fleet between
   * the two reads is seen in one of them, never in neither.
   */
  held: () => Alert[];
}

/**
 * Which of a sink's firing alerts the fleet has closed: reads only their groups (one read per
 * distinct group, READ_BATCH at a time), not the whole fleet's open list. An incident is open
 * while its group's state holds an incident of the rule with the same alert id (same start);
 * ended when the group has none (resolved by any process, or expired); superseded when it
 * holds another one (same labels: the same Alertmanager alert, which a resolve would end).
 * Anything it cannot tell (unknown rule, a state that does not decode) counts as open: a
 * wrong "closed" would resolve a live incident in Alertmanager.
 */
export function fleetIncidentCheck(o: FleetCheckOptions): FleetIncidentCheck & { release(): Promise<void> } {
  const byRule = new Map<string, { table: RuleTable; rule: CompiledRule; sid: string }>();
  for (const table of o.tables)
    table.rules.forEach((rule, j) => byRule.set(rule.id, { table, rule, sid: table.sids[j]! }));
  // This engine's token for the adoption lease: one holder per ruleset, renewed while it lives.
  const token = randomUUID();
  const leaseKey = o.state.adoptionLeaseKey(o.ruleset);
  return {
    /** Gives the adoption lease up if this engine holds it (a leaving process: the next holder need not wait it out). */
    async release(): Promise<void> {
      await o.state.releaseLease(leaseKey, token);
    },
    async adopt(leaseMs: number): Promise<Alert[]> {
      if (!(await o.state.lease(leaseKey, token, leaseMs))) return [];
      return await fleetIncidents(o.state, o.tables, o.maxUsersPerAlert);
    },
    async closed(alerts: readonly FleetAlertRef[]): Promise<FleetCheckAnswer> {
      const held = new Set(o.held().map((a) => a.alert_id));
      const asks = new Map<
        string,
        { id: string; rule: CompiledRule; sid: string; revision: string | undefined }[]
      >();
      for (const a of alerts) {
        if (held.has(a.alert_id)) continue;
        const found = byRule.get(a.rule);
        const group = found === undefined ? undefined : a.labels[found.rule.groupLabel];
        if (found === undefined || typeof group !== 'string') continue;
        const key = o.state.groupKey(o.ruleset, found.table.tag, group);
        let list = asks.get(key);
        if (list === undefined) asks.set(key, (list = []));
        list.push({ id: a.alert_id, rule: found.rule, sid: found.sid, revision: a.revision });
      }
      const answer = {
        ended: new Set<string>(),
        superseded: new Set<string>(),
        users: new Map<string, string[]>(),
        current: new Map<string, Alert>(),
      } satisfies FleetCheckAnswer;
      const keys = [...asks.keys()];
      for (let i = 0; i < keys.length; i += READ_BATCH) {
        const batch = keys.slice(i, i + READ_BATCH);
        // cas with expected -1 never writes: it returns the stored text (the state's read).
        const replies = await Promise.all(batch.map((key) => o.state.cas(key, -1, '', 1)));
        replies.forEach(([, stored], k) => {
          for (const ask of asks.get(batch[k]!)!) {
            const found = stateOf(stored, ask.rule, ask.sid, ask.id, o.maxUsersPerAlert);
            if (found instanceof Incident) {
              answer.users.set(ask.id, [...found.users]);
              // Built only when the caller's copy differs (most do not change between checks).
              if (ask.revision === undefined || ask.revision !== found.revision())
                answer.current.set(ask.id, found.storedFiringAlert());
            } else if (found !== 'open') answer[found].add(ask.id);
          }
        });
      }
      return answer;
    },
  };
}

/**
 * The open incident itself, or 'open' for what it cannot tell (a wrong answer would end a live
 * alert in Alertmanager), or why it is closed.
 */
function stateOf(
  stored: string | number,
  rule: CompiledRule,
  sid: string,
  id: string,
  maxUsers: number,
): Incident | 'open' | 'ended' | 'superseded' {
  if (stored === '') return 'ended'; // no state: expired, or never stored (the TTL outlives any open incident)
  if (typeof stored !== 'string') return 'open';
  let body;
  try {
    body = decodeBody(splitVersion(stored)[1]);
  } catch {
    return 'open';
  }
  if (typeof body?.i !== 'object' || body.i === null || typeof body.k !== 'string') return 'open';
  const st = body.i[sid];
  if (st === undefined) {
    // Held under another definition of the rule (same id: a replica of another release during
    // a rolling upgrade, which resolves it): not ours to end. The alert id is the rule id,
    // group and start, so an entry of another state id with that start is that incident.
    for (const [other, o] of Object.entries(body.i)) {
      if (other !== sid && typeof o?.s === 'number' && alertId(rule.id, rule.groupBy, body.k, o.s) === id)
        return 'open';
    }
    return 'ended';
  }
  // A damaged one is dropped by the next step of its group; until then, not ours to resolve.
  if (!loadableState(st, rule)) return 'open';
  const incident = Incident.fromState(rule, body.k, st, maxUsers);
  return incident.alertId === id ? incident : 'superseded';
}
