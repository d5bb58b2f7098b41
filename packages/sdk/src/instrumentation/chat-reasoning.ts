import { num } from './adapter.ts';
import type { StreamItemRewrite } from './stream-rewriter.ts';
import { MAX_TOOL_CALLS, reasoningSlot, StreamedArguments, type ArgumentSlot } from './tool-arguments.ts';

/**
 * A chat completion's reasoning, which OpenAI-compatible servers of reasoning models hand the
 * application beside the answer: `message.reasoning_content` (streamed as
 * `delta.reasoning_content`: DeepSeek, vLLM, SGLang, LM Studio) and `message.reasoning`
 * (`delta.reasoning`: vLLM since it renamed the field, OpenRouter, Groq, Ollama). The openai
 * package types neither (its own models send none), so an application reads them as the server
 * sent them, and may show them: an address or the system prompt in them leaves as surely as in
 * the answer. Before, no output guard read them.
 *
 * Read as the model's reasoning (tool-arguments.ts reasoningSlot: after the tool calls'
 * arguments, reported as found in `reasoning`), only when a string (OpenRouter's
 * `reasoning_details` list, encrypted or summarised, is not read). detect reports a finding in
 * it; block blocks the answer (a stream is held from its first reasoning piece to the end
 * check, as from a tool call's); redact rewrites it: a complete message's field in place, a
 * stream's pieces delivered empty and the choice's reasoning whole, rewritten, in the field it
 * came in, in the chunk where the choice's reasoning ends (its first chunk of answer text, tool
 * call or refusal after it, or its finish chunk): a reader joining the pieces gets the rewrite,
 * as the end check read it. A stream that ends without such a chunk delivers none of it (fail
 * closed, as a tool call's arguments).
 */

/** The fields a chat message (and a streamed delta) carries its reasoning in. */
const FIELDS = ['reasoning_content', 'reasoning'] as const;

/** A complete message's reasoning, as slots of kind `reasoning`. */
export function chatReasoningSlots(message: Record<string, unknown>, out: ArgumentSlot[]): void {
  for (const f of FIELDS) reasoningSlot(message, f, out);
}

/**
 * A streamed delta's reasoning pieces, by choice and field, added to `into` (created on the
 * first). Returns false past its cap (MAX_TOOL_CALLS texts): the caller cuts a guarded stream.
 */
export function readReasoningPieces(
  choice: number,
  d: Record<string, unknown>,
  into: { reasoning?: StreamedArguments },
): boolean {
  for (const f of FIELDS) {
    const piece = d[f];
    if (typeof piece !== 'string' || piece.length === 0) continue;
    if (!(into.reasoning ??= new StreamedArguments()).add(`${choice}:${f}`, piece)) return false;
  }
  return true;
}

/**
 * A redact chat stream's reasoning (above): this choice's pieces kept back, and sent whole,
 * rewritten, when the chunk ends its reasoning. The common chunk of a stream without reasoning
 * pays two property reads and no lookup (the held pieces live on the stream's rewrite).
 */
export function rewriteChatReasoning(
  choice: Record<string, unknown>,
  d: Record<string, unknown> | undefined,
  rw: StreamItemRewrite,
): void {
  if (
    typeof d?.reasoning_content !== 'string' &&
    typeof d?.reasoning !== 'string' &&
    rw.reasoning === undefined
  )
    return;
  const at = num(choice.index) ?? 0;
  let held = rw.reasoning;
  if (d !== undefined)
    for (const f of FIELDS) {
      const piece = d[f];
      if (typeof piece !== 'string' || piece.length === 0) continue;
      d[f] = '';
      held ??= rw.reasoning = new Map();
      const key = `${at}:${f}`;
      const before = held.get(key);
      // Bounded: the accumulator cuts a guarded stream past MAX_TOOL_CALLS reasoning texts.
      if (before !== undefined || held.size < MAX_TOOL_CALLS) held.set(key, (before ?? '') + piece);
    }
  if (held === undefined || held.size === 0 || !endsReasoning(choice, d)) return;
  for (const f of FIELDS) {
    const key = `${at}:${f}`;
    const text = held.get(key);
    if (text === undefined) continue;
    held.delete(key);
    const delta = d ?? ((choice.delta = {}) as Record<string, unknown>);
    delta[f] = rw.whole(text);
  }
}

/** A chunk of the choice that ends its reasoning: answer text, a tool call or refusal, or its finish. */
function endsReasoning(choice: Record<string, unknown>, d: Record<string, unknown> | undefined): boolean {
  if (typeof choice.finish_reason === 'string') return true;
  if (d === undefined) return false;
  return (
    (typeof d.content === 'string' && d.content.length > 0) ||
    (Array.isArray(d.tool_calls) && d.tool_calls.length > 0) ||
    (typeof d.function_call === 'object' && d.function_call !== null) ||
    (typeof d.refusal === 'string' && d.refusal.length > 0)
  );
}
