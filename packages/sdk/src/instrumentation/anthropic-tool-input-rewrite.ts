import { arr, num, obj } from './adapter.ts';
import { keepHeld, releaseHeld } from './held-text.ts';
import { ItemRun } from './stream.ts';
import type { StreamItemRewrite } from './stream-rewriter.ts';
import { MAX_TOOL_CALLS, objectSlot, rewrittenArguments, type ArgumentSlot } from './tool-arguments.ts';

/**
 * A redact Anthropic stream's tool inputs (tool-arguments.ts): each block's `input_json_delta`
 * pieces (`tool_use`, and the inputs of server tools and MCP calls, which the API streams the
 * same way) are kept back (`partial_json: ''` delivered) and the block's input goes out whole,
 * rewritten (`rw.whole`), as one `input_json_delta` just before the block's
 * `content_block_stop` (an ItemRun: two items for the stop). That is where the SDK's
 * MessageStream ends the block (its `contentBlock` event, the input fixed), so `finalMessage()`,
 * `inputJson` listeners (they get '' for each piece, then the whole) and a reader joining the
 * pieces itself all get the rewritten input. As a chat stream's arguments
 * (chat-tool-arguments-rewrite.ts): a finding in a piece of JSON cannot be replaced before the
 * rest is seen. Before, the pieces reached the reader as sent: an address passed `redact` (the
 * end check only reported it).
 *
 * An input sent whole in a block's start (a proxy's; the API sends `{}`) is rewritten there.
 * A rewrite that is no longer JSON throws UnwritableArguments (the stream is cut as a block:
 * call-stream.ts). Fail closed: a stream that ends before a block's stop delivers none of its
 * input, nor of a block past MAX_TOOL_CALLS.
 */

/** Per stream (its StreamItemRewrite): each block's pieces not delivered yet, by index. */
export type HeldPieces = WeakMap<StreamItemRewrite, Map<number, string>>;

/** Per stream: each block's input pieces not delivered yet. */
const held: HeldPieces = new WeakMap();

/**
 * A content_block_delta's piece (`d[field]`) kept back in `pieces` (the field emptied). Past
 * MAX_TOOL_CALLS blocks nothing more is kept, and so nothing of them delivered (the accumulator
 * cuts a guarded stream there first).
 */
export function holdPiece(
  pieces: HeldPieces,
  ev: Record<string, unknown>,
  d: Record<string, unknown>,
  field: string,
  rw: StreamItemRewrite,
): void {
  const piece = d[field];
  if (typeof piece !== 'string' || piece.length === 0) return;
  d[field] = '';
  let blocks = pieces.get(rw);
  if (blocks === undefined) pieces.set(rw, (blocks = new Map()));
  const index = num(ev.index) ?? 0;
  const so = blocks.get(index);
  if (so !== undefined) {
    keepHeld(rw, piece.length);
    blocks.set(index, so + piece);
  } else if (blocks.size < MAX_TOOL_CALLS) {
    keepHeld(rw, piece.length);
    blocks.set(index, piece);
  }
}

/** The pieces `pieces` holds of a content_block_stop's block, joined and let go; undefined: none. */
export function takeHeld(
  pieces: HeldPieces,
  ev: Record<string, unknown>,
  rw: StreamItemRewrite,
): string | undefined {
  const blocks = pieces.get(rw);
  const text = blocks?.get(num(ev.index) ?? 0);
  if (text !== undefined) {
    blocks!.delete(num(ev.index) ?? 0);
    releaseHeld(rw, text.length);
  }
  return text;
}

/** A content_block_delta's input piece kept back (the event's `partial_json` emptied). */
export function holdInputPiece(
  ev: Record<string, unknown>,
  d: Record<string, unknown>,
  rw: StreamItemRewrite,
): void {
  holdPiece(held, ev, d, 'partial_json', rw);
}

/**
 * A content_block_stop: the block's input kept back goes out whole, rewritten, in a delta just
 * before it (an ItemRun); the stop itself when nothing of its block is held.
 */
export function sendInputBefore(ev: Record<string, unknown>, rw: StreamItemRewrite): unknown {
  const text = takeHeld(held, ev, rw);
  if (text === undefined) return ev;
  const delta = { type: 'input_json_delta', partial_json: rewrittenArguments(text, rw) };
  return new ItemRun([{ type: 'content_block_delta', index: num(ev.index) ?? 0, delta }, ev]);
}

/** The block types whose `input` is data the model sends out: a tool's, a server tool's, an MCP server's. */
export function isToolInputBlock(b: Record<string, unknown> | undefined): b is Record<string, unknown> {
  return b?.type === 'tool_use' || b?.type === 'server_tool_use' || b?.type === 'mcp_tool_use';
}

/** A block sent whole (in content_block_start, message_start): its input rewritten in place. */
export function rewriteWholeInput(block: unknown, rw: StreamItemRewrite): void {
  const b = obj(block);
  if (!isToolInputBlock(b)) return;
  const slots: ArgumentSlot[] = [];
  objectSlot(b, 'input', slots);
  for (const s of slots) s.write(rw.whole(s.read));
}

/** message_start's blocks (empty in the API's streams; a proxy's may hold whole ones). */
export function rewriteStartInputs(message: unknown, rw: StreamItemRewrite): void {
  for (const b of arr(obj(message)?.content)) rewriteWholeInput(b, rw);
}
