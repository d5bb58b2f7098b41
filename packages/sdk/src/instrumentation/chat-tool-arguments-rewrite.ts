import { arr, num, obj } from './adapter.ts';
import { isFinish } from './finish-reason.ts';
import { keepHeld, releaseHeld } from './held-text.ts';
import type { StreamItemRewrite } from './stream-rewriter.ts';
import {
  argumentsText,
  MAX_TOOL_CALLS,
  rewrittenArguments,
  TOOL_ARGUMENTS_FILTER,
  UnwritableArguments,
} from './tool-arguments.ts';

const CROSSES = 'a redacted finding in the tool-call arguments crosses text already delivered';

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
 * interleaves calls) is held to the finish and sent as the rewrite of the call's whole arguments
 * past what went out (ChatCompletionStream joins them by index); when that rewrite no longer
 * begins with what went out (a finding crosses into it), the read fails (UnwritableArguments).
 * Before, it went out as a rewrite of its own: an address cut between the two runs reached the
 * tool whole. As a refusal's pieces
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
  index: number;
  /** `function` or `custom`: the field the pieces came in. */
  kind: 'function' | 'custom';
  text: string;
}

/**
 * Per stream (its StreamItemRewrite), per choice: the calls whose pieces are kept back, in
 * order (after a switch of call, one: the others were sent), and the legacy function_call's.
 * By choice, so a chunk's call looks at its own choice's calls only, however many choices hold.
 */
interface Held {
  calls: Map<number, Map<number, HeldCall>>;
  legacy: Map<number, string>;
  /**
   * The calls sent, by choice and call index: their arguments raw and as sent, so a resumed
   * call's rewrite covers the whole. At most one per call the accumulator keeps apart
   * (MAX_TOOL_CALLS: past it the stream is cut).
   */
  sent: Map<number, Map<number, SentCall>>;
  /** Calls kept back, over every choice: past MAX_TOOL_CALLS a new one is not (fail closed). */
  size: number;
}

/** A call's arguments sent: raw and as sent; closed at its choice's finish (later pieces dropped). */
interface SentCall {
  raw: string;
  out: string;
  closed: boolean;
}

const held = new WeakMap<StreamItemRewrite, Held>();

export function rewriteChatToolArguments(
  choice: Record<string, unknown>,
  d: Record<string, unknown> | undefined,
  rw: StreamItemRewrite,
): void {
  const last = isFinish(choice);
  // The common chunk (content, no tool call, not the last): no lookup.
  if (d?.tool_calls === undefined && d?.function_call === undefined && !last) return;
  const at = num(choice.index) ?? 0;
  let h = held.get(rw);
  const state = (): Held => {
    if (h === undefined)
      held.set(rw, (h = { calls: new Map(), legacy: new Map(), sent: new Map(), size: 0 }));
    return h;
  };
  // The legacy function_call (one per choice): its pieces kept back as a call's, sent at the finish.
  const legacy = obj(d?.function_call);
  const legacyPiece = argumentsText(legacy?.arguments);
  if (legacy !== undefined && legacyPiece !== undefined && legacyPiece.length > 0) {
    legacy.arguments = '';
    const l = state().legacy;
    keepHeld(rw, legacyPiece.length);
    l.set(at, (l.get(at) ?? '') + legacyPiece);
  }
  /** Calls of this choice ended in this chunk (another call began): sent before its entries. */
  let ended: unknown[] | undefined;
  for (const tc of arr(d?.tool_calls)) {
    const call = obj(tc);
    const index = num(call?.index) ?? 0;
    const mine = h?.calls.get(at);
    if (mine !== undefined && h !== undefined) ended = sendOthers(h, at, mine, index, rw, ended);
    const fn = obj(call?.function);
    const custom = obj(call?.custom);
    // Arguments that are not a string (sent parsed) are held as their JSON text and go out
    // whole as a string, as string pieces do (argumentsText).
    const holder = fn?.arguments != null ? fn : custom?.input != null ? custom : undefined;
    const field = holder === fn ? 'arguments' : 'input';
    const piece = argumentsText(holder?.[field]);
    if (holder === undefined || piece === undefined || piece.length === 0) continue;
    holder[field] = '';
    const st = state();
    // A piece of a call after its choice's finish (no server sends one) is not delivered.
    if (st.sent.get(at)?.get(index)?.closed === true) continue;
    let calls = st.calls.get(at);
    if (calls === undefined) st.calls.set(at, (calls = new Map()));
    const so = calls.get(index);
    if (so !== undefined) {
      keepHeld(rw, piece.length);
      so.text += piece;
    } else if (st.size < MAX_TOOL_CALLS) {
      keepHeld(rw, piece.length);
      st.size++;
      calls.set(index, { index, kind: holder === fn ? 'function' : 'custom', text: piece });
    }
  }
  if (!last || h === undefined) return finish(choice, ended);
  const fc = h.legacy.get(at);
  if (fc !== undefined) {
    h.legacy.delete(at);
    releaseHeld(rw, fc.length);
    const arguments_ = rewrittenArguments(fc, rw);
    const delta = d ?? ((choice.delta = {}) as Record<string, unknown>);
    delta.function_call = { ...obj(delta.function_call), arguments: arguments_ };
  }
  const mine = h.calls.get(at);
  if (mine !== undefined) {
    ended = sendOthers(h, at, mine, undefined, rw, ended);
    h.calls.delete(at);
  }
  // Each finish does not rewrite a call's whole arguments again: linear however many come.
  for (const c of h.sent.get(at)?.values() ?? []) c.closed = true;
  finish(choice, ended);
}

/** The calls sent in this chunk, before its own entries. */
function finish(choice: Record<string, unknown>, out: unknown[] | undefined): void {
  if (out === undefined || out.length === 0) return;
  const delta = obj(choice.delta);
  if (delta !== undefined) delta.tool_calls = [...out, ...arr(delta.tool_calls)];
  else choice.delta = { tool_calls: out };
}

/**
 * The held calls of choice `at` (`calls`) other than `index` (all of them, at the finish:
 * undefined), rewritten whole and removed, appended to `out`; a call sent before only at the
 * finish (one rewrite of its whole arguments: linear however often the calls alternate). Throws
 * UnwritableArguments when a rewrite is no longer JSON where the pieces were, or no longer
 * begins with what went out.
 */
function sendOthers(
  h: Held,
  at: number,
  calls: Map<number, HeldCall>,
  index: number | undefined,
  rw: StreamItemRewrite,
  out: unknown[] | undefined,
): unknown[] | undefined {
  for (const [key, c] of calls) {
    if (key === index) continue;
    let sent = h.sent.get(at);
    const before = sent?.get(key);
    if (before !== undefined && index !== undefined) continue;
    calls.delete(key);
    h.size--;
    releaseHeld(rw, c.text.length);
    let text: string;
    if (before === undefined) {
      text = rewrittenArguments(c.text, rw);
      if (sent === undefined) h.sent.set(at, (sent = new Map()));
      sent.set(key, { raw: c.text, out: text, closed: false });
    } else {
      const whole = rewrittenArguments(before.raw + c.text, rw);
      if (!whole.startsWith(before.out)) throw new UnwritableArguments(TOOL_ARGUMENTS_FILTER, CROSSES);
      text = whole.slice(before.out.length);
      before.raw += c.text;
      before.out = whole;
    }
    (out ??= []).push(
      c.kind === 'function'
        ? { index: c.index, function: { arguments: text } }
        : { index: c.index, custom: { input: text } },
    );
  }
  return out;
}
