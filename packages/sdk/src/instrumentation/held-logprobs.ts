import { itemChars } from './held-chars.ts';

/**
 * The logprobs of a streamed text kept back until its choice's finish (an audio transcript,
 * chat-audio.ts; a refusal, stream-item-rewrite.ts). Each piece's chunk loses its tokens, which
 * repeat the piece (logprobs.ts takeChoiceLogprobs), and they are kept with the piece; the
 * finish chunk gives them back, in order, when the rewrite left the text as it was. Before, they
 * were dropped for good: a clean streamed text came out whole without them, though the same
 * answer not streamed keeps its own.
 */

/**
 * Logprobs values kept back per stream (an entry, each of its alternatives and bytes, one each):
 * a long answer's tokens with a few alternatives each. Past it a text's are dropped (as for a
 * rewritten text), the text itself still delivered.
 */
export const MAX_HELD_LOGPROBS = 65_536;

/**
 * Their characters kept back per stream, as the hold's cap counts an item's (held-chars.ts:
 * strings' and keys' lengths, one a value): the values alone did not bound the memory, as a
 * value can be a token string of any length (65,536 tokens of a megabyte each were kept). An
 * entry as the API sends it is at most ~18 characters a value (a one-byte token with its keys),
 * so 65,536 values are at most ~1.2 Mi: this cap binds only entries no API sends. Past it a
 * text's are dropped, as past MAX_HELD_LOGPROBS.
 */
export const MAX_HELD_LOGPROBS_CHARS = 4 * 1024 * 1024;

/** One text's entries kept back; undefined once some could not be kept (none are given back). */
export type HeldEntries = unknown[] | undefined;

/** A stream's count of the values kept back, and of their characters, all texts. */
export interface LogprobsBudget {
  logprobs: number;
  logprobChars: number;
}

/** A piece's entries (undefined: not keepable) added to `held`, within the stream's budget. */
export function keepEntries(held: HeldEntries, budget: LogprobsBudget, entries: HeldEntries): HeldEntries {
  if (held === undefined) return undefined;
  const size = entries === undefined ? 0 : entriesSize(entries);
  const chars = entries === undefined ? 0 : entriesChars(entries);
  if (
    entries === undefined ||
    budget.logprobs + size > MAX_HELD_LOGPROBS ||
    budget.logprobChars + chars > MAX_HELD_LOGPROBS_CHARS
  ) {
    releaseEntries(held, budget);
    return undefined;
  }
  budget.logprobs += size;
  budget.logprobChars += chars;
  for (const e of entries) held.push(e);
  return held;
}

/** The text was delivered (or dropped): its entries no longer count against the budget. */
export function releaseEntries(held: HeldEntries, budget: LogprobsBudget): void {
  if (held === undefined) return;
  budget.logprobs -= entriesSize(held);
  budget.logprobChars -= entriesChars(held);
}

/** Characters of an entry list (held-chars.ts), the entries' alone: a text's are the sum of its pieces'. */
function entriesChars(entries: readonly unknown[]): number {
  let n = 0;
  for (const e of entries) n += itemChars(e);
  return n;
}

/** Values an entry list holds: each entry, its alternatives and its bytes (lengths only). */
function entriesSize(entries: readonly unknown[]): number {
  let n = entries.length;
  for (const e of entries) {
    if (typeof e !== 'object' || e === null) continue;
    const { top_logprobs: top, bytes } = e as Record<string, unknown>;
    if (Array.isArray(top)) n += top.length;
    if (Array.isArray(bytes)) n += bytes.length;
  }
  return n;
}

/**
 * A clean text's entries on its finish chunk's choice, under `field`, before any of that chunk's
 * own (a chunk whose logprobs are not the API's shape keeps them, and the text's are not given).
 */
export function giveEntries(
  choice: Record<string, unknown>,
  field: 'content' | 'refusal',
  entries: unknown[],
): void {
  if (entries.length === 0) return;
  const own = choice.logprobs;
  if (own === undefined || own === null) {
    choice.logprobs =
      field === 'content' ? { content: entries, refusal: null } : { content: null, refusal: entries };
  } else if (typeof own === 'object' && !Array.isArray(own)) {
    const o = own as Record<string, unknown>;
    if (Array.isArray(o[field])) o[field] = [...entries, ...(o[field] as unknown[])];
    else if (o[field] === undefined || o[field] === null) o[field] = entries;
  }
}
