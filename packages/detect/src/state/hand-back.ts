import type { Incident } from '../incident.ts';
import type { IncidentLifecycle } from '../incident-lifecycle.ts';
import {
  decodeBody,
  emptyBody,
  encodeBody,
  repairExtras,
  type GroupBody,
  type RuleTable,
} from './group-runner.ts';
import { splitVersion } from './redis-state.ts';
import type { SharedEngineOptions } from './shared-types.ts';

/** Compare-and-set attempts per group before its incidents are left to resolve locally. */
const MAX_ATTEMPTS = 5;
/**
 * Groups moved concurrently: an outage under a flood of invented ids can leave thousands open
 * locally (up to maxOpenIncidentsPerRule per rule), three round trips each, while events queue
 * behind the hand-back.
 */
const BATCH = 64;

/**
 * Redis answers again after a degraded episode: the incidents the fallback engine opened
 * meanwhile move into the shared state, each into its group's stored state and its rule's
 * resolve index, and leave the fallback without a line. The fleet then goes on with them under
 * the same alert id: the group's next events extend them and a sweep resolves them when due,
 * whichever process sees those events, so one real incident has one firing line. Kept in the
 * fallback instead, the group's attack, going on through Redis, opened a second incident (a
 * second firing line, another alert id) while the local one still fired.
 *
 * An incident stays local (and resolves there, as before) when the fleet already has an open
 * incident of that rule and group with another start (another process opened one while this one
 * was cut off: both fired, neither is taken back; with the same start it is this one, see
 * moveGroup), when the rule's resolve index is full (maxOpenIncidentsPerRule),
 * or when its group's stored state does not decode. Runs before the first round after the
 * return, so no event of the group is stepped in Redis first. Returns how many moved; throws if
 * Redis fails (the caller degrades again; those not moved yet stay local, and the next return
 * tries them again).
 */
export async function handBack(
  o: SharedEngineOptions,
  lifecycle: IncidentLifecycle,
  indexTtl: number,
): Promise<number> {
  // By stored group: the rules of one group-by share the group's state, so its incidents move
  // in one write (moved one by one, concurrently, they conflicted on that key, and past
  // MAX_ATTEMPTS lost writes an incident stayed local: an attacker tripping six rules at once).
  const groups = new Map<string, { table: RuleTable; key: string; incidents: Incident[] }>();
  for (const incident of lifecycle.openIncidents()) {
    const table = o.tables.find((t) => t.rules.some((r) => r.id === incident.rule.id));
    if (table === undefined) continue;
    const key = o.state.groupKey(o.ruleset, table.tag, incident.key);
    const group = groups.get(key);
    if (group !== undefined) group.incidents.push(incident);
    else groups.set(key, { table, key, incidents: [incident] });
  }
  const all = [...groups.values()];
  let moved = 0;
  for (let i = 0; i < all.length; i += BATCH) {
    // Settled, not Promise.all: when Redis fails halfway, the groups of the batch that landed
    // still leave the local engine (kept there as well, each incident was resolved twice: by
    // the fleet's sweep and by this process).
    const done = await Promise.allSettled(all.slice(i, i + BATCH).map((g) => moveGroup(o, g, indexTtl)));
    let failed: PromiseRejectedResult | undefined;
    for (const r of done) {
      if (r.status === 'rejected') failed ??= r;
      else
        for (const incident of r.value) {
          lifecycle.handedOver(incident);
          moved++;
        }
    }
    if (failed !== undefined) throw failed.reason;
  }
  return moved;
}

/**
 * One stored group's incidents into its state (each after its rule's resolve index), in one
 * compare-and-set: those now the fleet's once it is written.
 */
async function moveGroup(
  o: SharedEngineOptions,
  group: { table: RuleTable; key: string; incidents: Incident[] },
  indexTtl: number,
): Promise<Incident[]> {
  const { state } = o;
  const { table, key } = group;
  // The shared table's rule position: the incident's own rule is the fallback engine's compiled copy.
  const at = (inc: Incident): number => table.rules.findIndex((r) => r.id === inc.rule.id);
  /** Rule ids admitted to their resolve index by an earlier attempt. */
  const admitted = new Set<string>();
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    // cas with expected -1 never writes: it returns the stored text (the state's read).
    const [, cur] = await state.cas(key, -1, '', 1);
    const [expected, body] = cur === '' ? [0, emptyBody(group.incidents[0]!.key)] : readBody(String(cur));
    if (body === undefined) return [];
    const held: Incident[] = [];
    const add: Incident[] = [];
    for (const incident of group.incidents) {
      const stored = body.i[table.sids[at(incident)]!];
      // Held with this incident's start: the same alert id, so the same incident (a write of an
      // earlier hand-back that landed though its reply was lost, or a process that saw the same
      // opening event); the fleet goes on with it. Another start: both fired, this one stays.
      if (stored === undefined) add.push(incident);
      else if (stored.s === incident.startsAt) held.push(incident);
    }
    // Index before group, as GroupWriter.admitOpened: a failure in between leaves at worst an
    // entry naming a group without the incident, which the sweep drops when due.
    const admit = add.filter((inc) => !admitted.has(inc.rule.id));
    const refused = await Promise.all(
      admit.map((inc) => state.admitToIndex(table.indexKeys[at(inc)]!, indexTtl, [1, key, inc.resolveAt])),
    );
    admit.forEach((inc, k) => {
      if (refused[k]!.length === 0) admitted.add(inc.rule.id);
    });
    const moving = add.filter((inc) => admitted.has(inc.rule.id));
    if (moving.length === 0) return held;
    for (const inc of moving) body.i[table.sids[at(inc)]!] = inc.toState();
    // This rule list's writer time, as a step stamps it (GroupBody.x): without it, a replica of
    // another release stepping the group next would take these incidents for a departed rule's
    // and drop them. Until the incidents' resolve time at least (the group may have no time yet).
    repairExtras(body);
    const x = body.x;
    let until = Number.isFinite(body.p) ? body.p + table.ttlMs : Number.NEGATIVE_INFINITY;
    for (const inc of moving) until = Math.max(until, inc.resolveAt + table.ttlMs);
    if (!(typeof x[table.writer] === 'number' && x[table.writer]! >= until)) x[table.writer] = until;
    const [ok] = await state.cas(key, expected, encodeBody(body), table.ttlMs);
    if (ok === 1) return [...held, ...moving];
  }
  return [];
}

/** A stored group as [version, body]; body undefined when it does not decode. */
function readBody(stored: string): [number, GroupBody | undefined] {
  const [version, text] = splitVersion(stored);
  try {
    const body = decodeBody(text);
    if (typeof body?.k === 'string' && typeof body.i === 'object' && body.i !== null) return [version, body];
  } catch {
    // Another version's or a damaged text: the group's own step reports it; the incident stays local.
  }
  return [version, undefined];
}
