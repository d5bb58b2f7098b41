import type { Incident } from '../incident.ts';
import type { IncidentLifecycle } from '../incident-lifecycle.ts';
import { decodeBody, emptyBody, encodeBody, type GroupBody } from './group-runner.ts';
import { splitVersion } from './redis-state.ts';
import type { SharedEngineOptions } from './shared-types.ts';

/** Compare-and-set attempts per incident before it is left to resolve locally. */
const MAX_ATTEMPTS = 5;
/**
 * Incidents moved concurrently: an outage under a flood of invented ids can leave thousands
 * open locally (up to maxOpenIncidentsPerRule per rule), three round trips each, while events
 * queue behind the hand-back.
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
 * moveOne), when the rule's resolve index is full (maxOpenIncidentsPerRule),
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
  const open = lifecycle.openIncidents();
  let moved = 0;
  for (let i = 0; i < open.length; i += BATCH) {
    // Settled, not Promise.all: when Redis fails halfway, the moves of the batch that landed
    // still leave the local engine (kept there as well, each was resolved twice: by the
    // fleet's sweep and by this process).
    const done = await Promise.allSettled(open.slice(i, i + BATCH).map((inc) => moveOne(o, inc, indexTtl)));
    let failed: PromiseRejectedResult | undefined;
    done.forEach((r, k) => {
      if (r.status === 'rejected') failed ??= r;
      else if (r.value) {
        lifecycle.handedOver(open[i + k]!);
        moved++;
      }
    });
    if (failed !== undefined) throw failed.reason;
  }
  return moved;
}

/** One incident into its group's stored state (after its resolve index): true once written. */
async function moveOne(o: SharedEngineOptions, incident: Incident, indexTtl: number): Promise<boolean> {
  const { state, ruleset } = o;
  const table = o.tables.find((t) => t.rules.some((r) => r.id === incident.rule.id));
  const rule = table?.rules.find((r) => r.id === incident.rule.id);
  if (table === undefined || rule === undefined) return false;
  const key = state.groupKey(ruleset, table.index, incident.key);
  let admitted = false;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    // cas with expected -1 never writes: it returns the stored text (the state's read).
    const [, cur] = await state.cas(key, -1, '', 1);
    const [expected, body] = cur === '' ? [0, emptyBody(incident.key)] : readBody(String(cur));
    if (body === undefined) return false;
    const held = body.i[rule.id];
    // Held with this incident's start: the same alert id, so the same incident (a write of an
    // earlier hand-back that landed though its reply was lost, or a process that saw the same
    // opening event); the fleet goes on with it. Another start: both fired, this one stays.
    if (held !== undefined) return held.s === incident.startsAt;
    // Index before group, as GroupWriter.admitOpened: a failure in between leaves at worst an
    // entry naming a group without the incident, which the sweep drops when due.
    if (!admitted) {
      const refused = await state.admitToIndex(state.indexKey(ruleset, rule.index), indexTtl, [
        1,
        key,
        incident.resolveAt,
      ]);
      if (refused.length > 0) return false;
      admitted = true;
    }
    body.i[rule.id] = incident.toState();
    const [ok] = await state.cas(key, expected, encodeBody(body), table.ttlMs);
    if (ok === 1) return true;
  }
  return false;
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
