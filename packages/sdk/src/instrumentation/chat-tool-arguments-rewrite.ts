import { arr, num, obj } from './adapter.ts';
import type { StreamItemRewrite } from './stream-rewriter.ts';
import { MAX_TOOL_CALLS, textSlot, type ArgumentSlot } from './tool-arguments.ts';

/**
 * A redact chat stream's tool-call arguments (tool-arguments.ts): each call's
 * `delta.tool_calls[].function.arguments` (a custom tool's `custom.input`) pieces are kept back
 * ('' delivered) and the call's arguments go out whole, rewritten (`rw.whole`), in the choice's
 * finish chunk (`delta.tool_calls: [{index, function: {arguments}}]`, which openai's
 * ChatCompletionStream appends to the call as any piece), or earlier: in the chunk where the
 * next call of the choice begins, before that call's entry. The API streams a choice's calls
 * one after the other, and openai's ChatCompletionStream ends a call there (its
 * `tool_calls.function.arguments.done` event, which parses a strict or zod tool's arguments):
 * held to the finish, every call but the last ended with '' and a strict tool's parse threw,
 * failing the app's stream on clean arguments. A piece of a call already sent (a stream that
 * interleaves calls) is held and sent as its own rewrite. As a refusal's pieces
 * (stream-item-rewrite.ts): the arguments are not the stream text the rewriter's cursor follows,
 * and a finding in a piece of JSON cannot be replaced before the rest of it is seen. Before,
 * the pieces reached the reader as sent: an address passed `redact` (the end check reported it).
 *
 * The legacy `delta.function_call.arguments` (one call per choice) likewise, sent whole in
 * `delta.function_call.arguments` of the finish chunk (ChatCompletionStream appends it too);
 * before, its pieces went out as sent.
 *
 * A rewrite that is no longer JSON where the arguments were throws UnwritableArguments (the
 * stream is cut as a block: call-stream.ts). Fail closed: a stream that ends without the
 * choice's finish delivers none of its arguments, nor a call past MAX_TOOL_CALLS.
 */

interface HeldCall {
  choice: number;
  index: number;
  /** `function` or `custom`: the field the pieces came in; `legacy`: `delta.function_call.arguments`. */
  kind: 'function' | 'custom' | 'legacy';
  text: string;
}

/** Per stream (its StreamItemRewrite): the calls whose pieces were kept back, in order. */
const held = new WeakMap<StreamItemRewrite, Map<string, HeldCall>>();

export function rewriteChatToolArguments(
  choice: Record<string, unknown>,
  d: Record<string, unknown> | undefined,
  rw: StreamItemRewrite,
): void {
  const last = typeof choice.finish_reason === 'string';
  // The common chunk (content, no tool call, not the last): no lookup.
  if (d?.tool_calls === undefined && d?.function_call === undefined && !last) return;
  const at = num(choice.index) ?? 0;
  let calls = held.get(rw);
  // The legacy function_call (one per choice): its pieces kept back as a call's, sent at the finish.
  const legacy = obj(d?.function_call);
  const legacyPiece = legacy?.arguments;
  if (legacy !== undefined && typeof legacyPiece === 'string' && legacyPiece.length > 0) {
    legacy.arguments = '';
    if (calls === undefined) held.set(rw, (calls = new Map()));
    const so = calls.get(`${at}:f`);
    if (so !== undefined) so.text += legacyPiece;
    else calls.set(`${at}:f`, { choice: at, index: -1, kind: 'legacy', text: legacyPiece });
  }
  /** Calls of this choice ended in this chunk (another call began): sent before its entries. */
  let ended: unknown[] | undefined;
  for (const tc of arr(d?.tool_calls)) {
    const call = obj(tc);
    const index = num(call?.index) ?? 0;
    if (calls !== undefined && calls.size > 0) ended = sendOthers(calls, at, index, rw, ended);
    const fn = obj(call?.function);
    const custom = obj(call?.custom);
    const holder =
      typeof fn?.arguments === 'string' ? fn : typeof custom?.input === 'string' ? custom : undefined;
    const field = holder === fn ? 'arguments' : 'input';
    const piece = holder?.[field];
    if (holder === undefined || typeof piece !== 'string' || piece.length === 0) continue;
    holder[field] = '';
    const key = `${at}:${index}`;
    if (calls === undefined) held.set(rw, (calls = new Map()));
    const so = calls.get(key);
    if (so !== undefined) so.text += piece;
    else if (calls.size < MAX_TOOL_CALLS)
      calls.set(key, { choice: at, index, kind: holder === fn ? 'function' : 'custom', text: piece });
  }
  if (last && calls !== undefined) {
    const fc = calls.get(`${at}:f`);
    if (fc !== undefined) {
      calls.delete(`${at}:f`);
      const arguments_ = writtenWhole(fc.text, rw);
      const delta = d ?? ((choice.delta = {}) as Record<string, unknown>);
      delta.function_call = { ...obj(delta.function_call), arguments: arguments_ };
    }
  }
  const out = last && calls !== undefined ? sendOthers(calls, at, undefined, rw, ended) : ended;
  if (out === undefined || out.length === 0) return;
  const delta = obj(choice.delta);
  if (delta !== undefined) delta.tool_calls = [...out, ...arr(delta.tool_calls)];
  else choice.delta = { tool_calls: out };
}

/** A held call's text rewritten whole (rw.whole); throws UnwritableArguments when no longer JSON. */
function writtenWhole(text: string, rw: StreamItemRewrite): string {
  const slot: ArgumentSlot[] = [];
  const value: Record<string, unknown> = { arguments: text };
  textSlot(value, 'arguments', slot);
  if (slot[0] !== undefined) slot[0].write(rw.whole(slot[0].read));
  return value.arguments as string;
}

/**
 * The held calls of choice `at` other than `index` (all of them: undefined), rewritten whole and
 * removed from `calls`, appended to `out`. Throws UnwritableArguments when a rewrite is no
 * longer JSON where the pieces were.
 */
function sendOthers(
  calls: Map<string, HeldCall>,
  at: number,
  index: number | undefined,
  rw: StreamItemRewrite,
  out: unknown[] | undefined,
): unknown[] | undefined {
  for (const [key, c] of calls) {
    if (c.choice !== at || c.index === index || c.kind === 'legacy') continue;
    calls.delete(key);
    const text = writtenWhole(c.text, rw);
    (out ??= []).push(
      c.kind === 'function'
        ? { index: c.index, function: { arguments: text } }
        : { index: c.index, custom: { input: text } },
    );
  }
  return out;
}
