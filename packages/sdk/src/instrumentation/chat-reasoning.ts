import { num } from './adapter.ts';
import { isFinish } from './finish-reason.ts';
import { keepHeld, releaseHeld } from './held-text.ts';
import type { KeptText } from './kept-text.ts';
import { dropChoiceLogprobs } from './logprobs.ts';
import type { StreamItemRewrite } from './stream-rewriter.ts';
import {
  MAX_TOOL_CALLS,
  reasoningSlot,
  StreamedArguments,
  UnwritableArguments,
  type ArgumentSlot,
} from './tool-arguments.ts';

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

/**
 * A complete message's reasoning, as slots of kind `reasoning`. A rewrite drops its choice's
 * logprobs: vLLM and SGLang give the reasoning's tokens in them too (logprobs.ts).
 */
export function chatReasoningSlots(
  message: Record<string, unknown>,
  out: ArgumentSlot[],
  choice: Record<string, unknown>,
): void {
  for (const f of FIELDS) {
    const from = out.length;
    reasoningSlot(message, f, out);
    const slot = out[from];
    if (slot === undefined) continue;
    out[from] = {
      read: slot.read,
      kind: 'reasoning',
      write(next) {
        if (next !== slot.read) dropChoiceLogprobs(choice);
        slot.write(next);
      },
    };
  }
}

/**
 * A streamed delta's reasoning pieces, by choice and field, added to `into` (created on the
 * first). Returns false past its cap (MAX_TOOL_CALLS texts): the caller cuts a guarded stream.
 */
export function readReasoningPieces(
  choice: number,
  d: Record<string, unknown>,
  into: { reasoning?: StreamedArguments },
  kept: KeptText,
): boolean {
  for (const f of FIELDS) {
    const piece = d[f];
    if (typeof piece !== 'string' || piece.length === 0) continue;
    if (!(into.reasoning ??= new StreamedArguments(kept, false)).add(`${choice}:${f}`, piece)) return false;
  }
  return true;
}

/**
 * A redact chat stream's reasoning (above): this choice's pieces kept back, and sent whole,
 * rewritten, when the chunk ends its reasoning. The common chunk of a stream without reasoning
 * pays two property reads and no lookup (the held pieces live on the stream's rewrite).
 *
 * A chunk that carried a piece loses its logprobs: servers that give them (vLLM, SGLang) give
 * the reasoning's tokens too, which repeat the piece (logprobs.ts). Before, an address redact
 * took out of the reasoning went out in them token by token.
 *
 * Reasoning that resumes after its run went out (a server interleaving it with the answer) is
 * kept to the choice's finish and sent as the rewrite of the whole reasoning less what went out,
 * so an address cut between two runs is found as the end check finds it (it joins them). Before,
 * each run went out as a rewrite of its own, and such an address passed redact whole. When the
 * whole's rewrite no longer begins with what went out (a finding crosses into it), the rest is
 * not sent: UnwritableArguments (filter `reasoning`) fails the read. Pieces after the choice's
 * finish chunk (no server sends any) are delivered '' and never sent.
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
      dropChoiceLogprobs(choice);
      held ??= rw.reasoning = new Map();
      const key = `${at}:${f}`;
      const before = held.get(key);
      // Bounded: the accumulator cuts a guarded stream past MAX_TOOL_CALLS reasoning texts.
      if (before?.closed === true) continue;
      if (before !== undefined) {
        keepHeld(rw, piece.length);
        before.pending += piece;
      } else if (held.size < MAX_TOOL_CALLS) {
        keepHeld(rw, piece.length);
        held.set(key, { pending: piece });
      }
    }
  if (held === undefined || held.size === 0 || !endsReasoning(choice, d)) return;
  const last = isFinish(choice);
  for (const f of FIELDS) {
    const h = held.get(`${at}:${f}`);
    if (h === undefined) continue;
    // Closed at the finish: a piece after it (a hostile stream) is not delivered, and each
    // finish does not rewrite the whole again (linear however many finishes come).
    if (last) h.closed = true;
    if (h.pending.length === 0) continue;
    let out: string;
    if (h.sentRaw === undefined || h.sentOut === undefined) {
      out = rw.whole(h.pending);
      h.sentRaw = h.pending;
      h.sentOut = out;
    } else {
      // A resumed run: sent at the finish only, as the whole's rewrite past what went out.
      if (!last) continue;
      const whole = rw.whole(h.sentRaw + h.pending);
      if (!whole.startsWith(h.sentOut)) throw new UnwritableArguments(REASONING_FILTER, CROSSES);
      out = whole.slice(h.sentOut.length);
      h.sentRaw += h.pending;
      h.sentOut = whole;
    }
    releaseHeld(rw, h.pending.length);
    h.pending = '';
    const delta = d ?? ((choice.delta = {}) as Record<string, unknown>);
    delta[f] = out;
  }
}

/** The filter an OutputBlockedError names when a redacted finding crosses reasoning already sent. */
const REASONING_FILTER = 'reasoning';
const CROSSES = 'a redacted finding in the reasoning crosses text already delivered';

/**
 * A choice's reasoning in one field: the pieces kept back, and the run already sent (raw and as
 * sent). The sent text lasts as long as the stream: bounded by the end check's cap (kept-text.ts),
 * since the raw text is the reasoning the stream's accumulator counts (the piece past the cap is
 * cut before it reaches this rewrite) and the sent text its rewrite.
 */
export interface HeldReasoning {
  pending: string;
  sentRaw?: string;
  sentOut?: string;
  /** The choice's finish came: later pieces are dropped (delivered ''). */
  closed?: boolean;
}

/** A chunk of the choice that ends its reasoning: answer text, a tool call or refusal, or its finish. */
function endsReasoning(choice: Record<string, unknown>, d: Record<string, unknown> | undefined): boolean {
  if (isFinish(choice)) return true;
  if (d === undefined) return false;
  return (
    (typeof d.content === 'string' && d.content.length > 0) ||
    (Array.isArray(d.tool_calls) && d.tool_calls.length > 0) ||
    (typeof d.function_call === 'object' && d.function_call !== null) ||
    (typeof d.refusal === 'string' && d.refusal.length > 0)
  );
}
