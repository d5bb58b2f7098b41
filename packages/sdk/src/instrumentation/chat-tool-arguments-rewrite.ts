import { arr, num, obj } from './adapter.ts';
import type { StreamItemRewrite } from './stream-rewriter.ts';
import { MAX_TOOL_CALLS, textSlot, type ArgumentSlot } from './tool-arguments.ts';

/**
 * A redact chat stream's tool-call arguments (tool-arguments.ts): each call's
 * `delta.tool_calls[].function.arguments` (a custom tool's `custom.input`) pieces are kept back
 * ('' delivered) and the call's arguments go out whole, rewritten (`rw.whole`), in the choice's
 * finish chunk (`delta.tool_calls: [{index, function: {arguments}}]`, which openai's
 * ChatCompletionStream appends to the call as any piece). As a refusal's pieces
 * (stream-item-rewrite.ts): the arguments are not the stream text the rewriter's cursor follows,
 * and a finding in a piece of JSON cannot be replaced before the rest of it is seen. Before,
 * the pieces reached the reader as sent: an address passed `redact` (the end check reported it).
 *
 * A rewrite that is no longer JSON where the arguments were throws UnwritableArguments (the
 * stream is cut as a block: call-stream.ts). Fail closed: a stream that ends without the
 * choice's finish delivers none of its arguments, nor a call past MAX_TOOL_CALLS.
 */

interface HeldCall {
  choice: number;
  index: number;
  /** `function` or `custom`: the field the pieces came in. */
  kind: 'function' | 'custom';
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
  if (d?.tool_calls === undefined && !last) return;
  const at = num(choice.index) ?? 0;
  let calls = held.get(rw);
  for (const tc of arr(d?.tool_calls)) {
    const call = obj(tc);
    const fn = obj(call?.function);
    const custom = obj(call?.custom);
    const holder =
      typeof fn?.arguments === 'string' ? fn : typeof custom?.input === 'string' ? custom : undefined;
    const field = holder === fn ? 'arguments' : 'input';
    const piece = holder?.[field];
    if (holder === undefined || typeof piece !== 'string' || piece.length === 0) continue;
    holder[field] = '';
    const index = num(call?.index) ?? 0;
    const key = `${at}:${index}`;
    if (calls === undefined) held.set(rw, (calls = new Map()));
    const so = calls.get(key);
    if (so !== undefined) so.text += piece;
    else if (calls.size < MAX_TOOL_CALLS)
      calls.set(key, { choice: at, index, kind: holder === fn ? 'function' : 'custom', text: piece });
  }
  if (!last || calls === undefined) return;
  const out: unknown[] = [];
  for (const [key, c] of calls) {
    if (c.choice !== at) continue;
    calls.delete(key);
    const slot: ArgumentSlot[] = [];
    const value: Record<string, unknown> = { arguments: c.text };
    textSlot(value, 'arguments', slot);
    // Throws UnwritableArguments when the rewrite is no longer JSON where the pieces were.
    if (slot[0] !== undefined) slot[0].write(rw.whole(c.text));
    out.push(
      c.kind === 'function'
        ? { index: c.index, function: { arguments: value.arguments } }
        : { index: c.index, custom: { input: value.arguments } },
    );
  }
  if (out.length === 0) return;
  if (d !== undefined) d.tool_calls = [...arr(d.tool_calls), ...out];
  else choice.delta = { tool_calls: out };
}
