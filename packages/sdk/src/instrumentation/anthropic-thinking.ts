import { num, obj } from './adapter.ts';
import { holdPiece, takeHeld, type HeldPieces } from './anthropic-tool-input-rewrite.ts';
import { ItemRun } from './stream.ts';
import type { StreamItemRewrite } from './stream-rewriter.ts';
import { UnwritableArguments, type ArgumentSlot } from './tool-arguments.ts';

/**
 * An Anthropic `thinking` block's text, read by the output guards. Extended thinking hands the
 * model's reasoning to the application, which may show it (or log it): an address or the system
 * prompt in it leaves as surely as in the answer's text. Before, no output guard read it.
 *
 * Read as the model's reasoning (after the tool inputs: tool-arguments.ts withToolArguments;
 * `found_in: ["reasoning"]`), so detect reports a finding in it and block blocks the answer (a stream is held from its first
 * thinking piece to the end check, as from a tool input's). It cannot be rewritten: the block's
 * `signature` covers its text, and the API rejects a changed block when the application sends
 * the conversation back (it must, for a tool-use turn with thinking). So redact, finding
 * something in it, blocks the answer (UnwritableArguments with filter `thinking`): dropping the
 * block was not chosen, as a tool-use turn sent back without its thinking block is refused by
 * the API too, and an answer rewritten into one the application cannot continue is worse than a
 * clear block. `redacted_thinking` blocks carry the text encrypted: nothing to read.
 */

/** The filter an OutputBlockedError names when redact would change a thinking block. */
export const THINKING_FILTER = 'thinking';

function unwritable(): UnwritableArguments {
  return new UnwritableArguments(
    THINKING_FILTER,
    'a thinking block cannot be redacted (its signature covers the text)',
  );
}

/** A thinking block's text as a slot whose rewrite, if it changes the text, blocks the answer. */
export function thinkingSlot(b: Record<string, unknown> | undefined, out: ArgumentSlot[]): void {
  if (b?.type !== 'thinking') return;
  const read = b.thinking;
  if (typeof read !== 'string' || read.length === 0) return;
  out.push({
    read,
    kind: 'reasoning',
    write(next) {
      if (next !== read) throw unwritable();
    },
  });
}

/** A whole thinking text in a redact stream: passes if redact leaves it as it is, else blocks. */
function checkedWhole(text: string, rw: StreamItemRewrite): string {
  if (rw.whole(text) !== text) throw unwritable();
  return text;
}

/** Per stream (its StreamItemRewrite): each thinking block's pieces not delivered yet, by index. */
const held: HeldPieces = new WeakMap();

/**
 * A redact stream's `thinking_delta` kept back (its `thinking` emptied): the block's text goes
 * out whole before its `content_block_stop` (sendThinkingBefore) once redact leaves it as it is.
 */
export function holdThinkingPiece(
  ev: Record<string, unknown>,
  d: Record<string, unknown>,
  rw: StreamItemRewrite,
): void {
  holdPiece(held, ev, d, 'thinking', rw);
}

/**
 * A content_block_stop of a thinking block with pieces held: its text whole in one
 * `thinking_delta` just before the stop (an ItemRun), or UnwritableArguments when redact would
 * change it. `undefined` when nothing of the block is held. The SDK's MessageStream joins the
 * pieces and takes the signature from its own delta: the order of the two does not matter.
 */
export function sendThinkingBefore(ev: Record<string, unknown>, rw: StreamItemRewrite): unknown {
  const text = takeHeld(held, ev, rw);
  if (text === undefined) return undefined;
  const delta = { type: 'thinking_delta', thinking: checkedWhole(text, rw) };
  return new ItemRun([{ type: 'content_block_delta', index: num(ev.index) ?? 0, delta }, ev]);
}

/** A thinking block sent whole (content_block_start, message_start: a proxy's) in a redact stream. */
export function checkWholeThinking(block: unknown, rw: StreamItemRewrite): void {
  const b = obj(block);
  if (b?.type === 'thinking' && typeof b.thinking === 'string' && b.thinking.length > 0)
    checkedWhole(b.thinking, rw);
}
