import type { Alert } from '@llmsec/core';
import { Incident, loadableState } from '../incident.ts';
import { decodeBody, type RuleTable } from './group-runner.ts';
import { splitVersion, type RedisDetectionState } from './redis-state.ts';

/** Group states read per round trip batch (pipelined), so a large index does not queue them all at once. */
const READ_BATCH = 500;

/**
 * The open incidents of the whole fleet, whichever process opened them: the groups the
 * resolve index names (per rule, at most `maxOpenIncidentsPerRule` each, so the listing is
 * bounded like the index), read and decoded, each open incident as its current firing alert
 * (as DetectionEngine.activeIncidents gives them in memory). A group that expired or no longer
 * decodes is skipped (the resolve sweep drops its index entry). Sorted by rule, then group.
 */
export async function fleetIncidents(
  state: RedisDetectionState,
  tables: readonly RuleTable[],
  maxUsersPerAlert: number,
): Promise<Alert[]> {
  const out: { rule: number; key: string; alert: Alert }[] = [];
  for (const table of tables) {
    const lists = await Promise.all(
      table.indexKeys.map((key) => state.dueMembers(key, Number.MAX_VALUE, state.maxOpenIncidentsPerRule)),
    );
    const keys = [...new Set(lists.flat())];
    for (let i = 0; i < keys.length; i += READ_BATCH) {
      const batch = keys.slice(i, i + READ_BATCH);
      // cas with expected -1 never writes: it returns the stored text (the state's read).
      const replies = await Promise.all(batch.map((key) => state.cas(key, -1, '', 1)));
      replies.forEach(([, stored], k) => {
        if (stored === '' || typeof stored !== 'string') return;
        // Decoded and rebuilt whole before anything is listed: a group whose text or incident
        // state does not decode (another version, damage) is skipped, not the listing failed.
        const found: { rule: number; key: string; alert: Alert }[] = [];
        try {
          const body = decodeBody(splitVersion(stored)[1]);
          if (typeof body?.i !== 'object' || body.i === null || typeof body.k !== 'string') return;
          for (let j = 0; j < table.rules.length; j++) {
            const rule = table.rules[j]!;
            const st = body.i[table.sids[j]!];
            // A damaged one (see loadableState) is not listed; the next step of its group drops it.
            if (!loadableState(st, rule)) continue;
            const incident = Incident.fromState(rule, body.k, st, maxUsersPerAlert);
            found.push({ rule: rule.index, key: batch[k]!, alert: incident.storedFiringAlert() });
          }
        } catch {
          return;
        }
        for (const f of found) out.push(f);
      });
    }
  }
  out.sort((a, b) => a.rule - b.rule || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return out.map((o) => o.alert);
}
