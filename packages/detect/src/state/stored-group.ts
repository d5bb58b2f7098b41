import { decodeState, encodeState } from './codec.ts';
import { decodeBody, insertPending, type GroupBody, type GroupStep, type Pending } from './group-runner.ts';

/**
 * A group's stored text: the body of its last whole write, then the steps appended since.
 *
 * With about one event per group per batch (many active groups), most steps only add a
 * pending event: the watermark releases it a batch or more later. Rewriting the whole group
 * for that (a few hundred bytes encoded, sent, and garbage) was half of all writes; such a
 * step is appended instead (APPEND_LUA), as `\n` + `[p, n, inserted entries]`, and the
 * release that follows rewrites the group whole, dropping the appended steps.
 *
 * An appended step is the step's outcome, not its input: the writer decided duplicates and
 * lateness against the exact state it appended to (the append is version-checked like a
 * compare-and-set), so a reader redoes only the insertions (the same insertion as the step's:
 * after every entry of time <= t, so ties keep their order of arrival at Redis) and sets `p`
 * and `n`. JSON never holds a raw newline, so `\n` separates the parts unambiguously.
 */

/** An appended step: the group's processedUpTo and next sequence number after it, and its entries. */
type Delta = [p: number, n: number, inserted: Pending[]];

/** `<version>|<text>` or `<version>+|<text>` (a text with appended steps) as [version, text]. */
export function splitStored(stored: string): [number, string] {
  const sep = stored.indexOf('|');
  const end = sep > 0 && stored.charCodeAt(sep - 1) === 43 /* + */ ? sep - 1 : sep;
  return [Number(stored.slice(0, end)), stored.slice(sep + 1)];
}

/**
 * Whether a step can be appended rather than written whole: it added pending events and did
 * nothing else (processed nothing, so no condition state, recent id, incident or alert changed).
 */
export function appendable(step: GroupStep): boolean {
  return step.processed === 0 && step.alerts.length === 0 && step.inserted.length > 0;
}

/** The appended form of such a step (after it ran on `body`). */
export function encodeDelta(body: GroupBody, step: GroupStep): string {
  const delta: Delta = [body.p, body.n, step.inserted];
  return encodeState(delta);
}

/** The group from its stored text (version stripped): the last whole body with every appended step redone. */
export function decodeStored(text: string): GroupBody {
  let end = text.indexOf('\n');
  if (end < 0) return decodeBody(text);
  const body = decodeBody(text.slice(0, end));
  if (!Array.isArray(body?.q)) throw new Error('not a group state');
  while (end < text.length) {
    const next = text.indexOf('\n', end + 1);
    const stop = next < 0 ? text.length : next;
    applyDelta(body, decodeState<Delta>(text.slice(end + 1, stop)));
    end = stop;
  }
  return body;
}

function applyDelta(body: GroupBody, delta: Delta): void {
  if (!Array.isArray(delta) || delta.length !== 3 || !Array.isArray(delta[2])) {
    throw new Error('not an appended group step');
  }
  const [p, n, inserted] = delta;
  for (const entry of inserted) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'number' || typeof entry[2] !== 'object') {
      throw new Error('not an appended pending event');
    }
    insertPending(body.q, entry);
  }
  body.p = p;
  body.n = n;
}
