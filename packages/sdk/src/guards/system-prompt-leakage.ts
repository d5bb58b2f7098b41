import type { GuardContext, GuardOutput, OutputDecision, OutputGuard } from '../instrumentation/types.ts';
import { CHUNK_SELF_TIMED, markChunkStart } from '../instrumentation/chunk-guards.ts';
import { STREAM_QUOTES, type StreamQuotesHook } from '../instrumentation/stream-rewriter.ts';
import { grams, overlap, type Grams } from './leakage-grams.ts';
import { LeakageStream, type LeakVerdict } from './leakage-stream.ts';
import { StreamStates } from './stream-state.ts';

/**
 * System-prompt leakage in responses, two ways: a canary token planted in the system prompt
 * appearing in the output (certain: confidence 1), or word n-gram overlap between the output
 * and the system prompt (the share of the prompt's n-grams the output repeats; confidence =
 * that share). A leak emits `system_prompt_leakage` and blocks the response (the runner then
 * emits `output_filter_block` with filter_name = this layer).
 *
 * Streams are checked incrementally (linear in the stream, whatever the delta size) and with a
 * hold-back window (leakage-stream.ts): text that may be part of a leak is held back from the
 * reader until it is known not to be, so a leaked prompt that gets cut reaches the reader only
 * up to `maxLeakShare` of its words. The cost: text that repeats prompt words reaches the
 * reader a few words late, and after a released share above the budget, only at the end.
 *
 * A stream's side texts (tool-call arguments, a refusal, a Responses reasoning summary, an
 * Anthropic thinking block) are not its text the chunk checks read: with this guard a stream is
 * held from the first of them to the end check (its quote hook, STREAM_QUOTES, as piiGuard
 * block's), and a quote (an annotation's title or URL) is checked whole before its item is
 * delivered. Before, a canary or the prompt recited there reached the reader as it came and the
 * end check blocked after.
 */
export interface SystemPromptLeakageOptions {
  /** The system prompt to protect. @default each request's own system prompt */
  systemPrompt?: string;
  /** A secret marker planted in the system prompt. */
  canary?: string;
  /** Words per n-gram. @default 8 */
  ngram?: number;
  /** Overlap share (0..1] from which a response leaks. @default 0.5 */
  threshold?: number;
  /**
   * Streams: the share [0..1] of the prompt's words that may reach the reader in repeated
   * passages before the rest is held back until the end of the stream. 1: a repeated passage
   * is released as soon as it ends (held only while it grows). @default 0.1
   */
  maxLeakShare?: number;
  /** @default 'system_prompt_leakage' */
  layer?: string;
}

const MAX_CACHED_PROMPTS = 64;

/** Synchronous on both paths (it runs between stream chunks). */
export interface SystemPromptLeakageGuard extends OutputGuard {
  checkResponse(output: GuardOutput, ctx: GuardContext): OutputDecision;
  checkChunk(accumulated: string, delta: string, ctx: GuardContext): OutputDecision;
}

export function systemPromptLeakageGuard(options: SystemPromptLeakageOptions = {}): SystemPromptLeakageGuard {
  const n = options.ngram ?? 8;
  const threshold = options.threshold ?? 0.5;
  const maxLeakShare = options.maxLeakShare ?? 0.1;
  if (!Number.isInteger(n) || n < 1)
    throw new TypeError(`systemPromptLeakageGuard: ngram must be a positive integer, got ${String(n)}`);
  if (!(threshold > 0 && threshold <= 1))
    throw new TypeError(`systemPromptLeakageGuard: threshold must be in (0, 1], got ${String(threshold)}`);
  if (!(maxLeakShare >= 0 && maxLeakShare <= 1)) {
    throw new TypeError(
      `systemPromptLeakageGuard: maxLeakShare must be in [0, 1], got ${String(maxLeakShare)}`,
    );
  }
  const canary = options.canary !== undefined && options.canary.length > 0 ? options.canary : undefined;
  const layer = options.layer ?? 'system_prompt_leakage';
  const fixed = options.systemPrompt !== undefined ? grams(options.systemPrompt, n) : undefined;
  // Per-request system prompts: their n-gram sets, bounded (oldest evicted first).
  const cache = new Map<string, Grams>();
  // One incremental state per streamed call (its GuardContext), collected with the call.
  const streams = new StreamStates<LeakageStream>();

  // The last prompt looked up: a streamed call reads its prompt at its first chunk and again at
  // its end, the same string object both times (the call's input view), so the second is an
  // identity test here instead of hashing the prompt for the Map (its string is new per call).
  let lastSystem = '';
  let lastGrams: Grams | undefined;

  function promptGrams(ctx: GuardContext): Grams | undefined {
    if (fixed !== undefined) return fixed;
    const system = ctx.input?.system ?? '';
    if (system.length === 0) return undefined;
    if (system === lastSystem) return lastGrams;
    let set = cache.get(system);
    if (set === undefined) {
      set = grams(system, n);
      if (cache.size >= MAX_CACHED_PROMPTS) cache.delete(cache.keys().next().value as string);
      cache.set(system, set);
    }
    lastSystem = system;
    lastGrams = set;
    return set;
  }

  function leak(verdict: LeakVerdict, ctx: GuardContext): OutputDecision {
    const { method, confidence } = verdict;
    ctx.emit('system_prompt_leakage', {
      description: `response repeats the system prompt (${method})`,
      metadata: { detection_method: method, confidence },
    });
    return {
      action: 'block',
      reason: `system prompt leakage (${method}, confidence ${confidence})`,
      severity: 'critical',
    };
  }

  /** The check of a whole text: the canary, then the prompt's n-grams. */
  function wholeText(text: string, prompt: Grams | undefined, ctx: GuardContext): OutputDecision {
    if (canary !== undefined && text.includes(canary))
      return leak({ method: 'canary_token', confidence: 1 }, ctx);
    if (prompt === undefined || prompt.set.size === 0) return allow();
    const ratio = overlap(prompt, text);
    return ratio >= threshold
      ? leak({ method: 'ngram_overlap', confidence: Math.round(ratio * 1000) / 1000 }, ctx)
      : allow();
  }

  const guard: SystemPromptLeakageGuard = {
    name: 'systemPromptLeakageGuard',
    layer,
    checkResponse(output: GuardOutput, ctx: GuardContext): OutputDecision {
      const text = output.text;
      if (text.length === 0) return allow();
      const prompt = promptGrams(ctx);
      const streamed = streams.get(ctx);
      if (streamed !== undefined) {
        // The end of a stream: its incremental state has read this text already; its verdict
        // is used when it is exactly the whole-text one (leakage-stream.ts), else the check runs.
        const verdict = streamed.finalVerdict(text, prompt);
        if (verdict === 'clean') return allow();
        if (verdict !== 'unknown') return leak(verdict, ctx);
      }
      return wholeText(text, prompt, ctx);
    },
    checkChunk(accumulated: string, delta: string, ctx: GuardContext): OutputDecision {
      // Only the delta is read: touching `accumulated` (slice, regex) would flatten the growing
      // string on every chunk and make the stream quadratic. It is only kept, for the final check.
      // The start of a check that may block, for its duration record (chunk-guards.ts
      // CHUNK_SELF_TIMED: the runner does not read the clock for this guard): the first delta
      // always (its state is made here), a later one only where it can leak.
      let state = streams.get(ctx);
      if (state === undefined) {
        markChunkStart();
        state = new LeakageStream(promptGrams(ctx), canary, threshold, maxLeakShare);
        streams.set(ctx, state);
      } else if (!state.cannotLeak(delta)) {
        markChunkStart();
      }
      const found = state.push(delta, accumulated);
      if (found !== undefined) return leak(found, ctx);
      const hold = state.hold();
      return hold > 0 ? { action: 'allow', holdChars: hold } : allow();
    },
  };
  // This checkChunk marks its own start (above); a host's wrapper of it is timed by the runner.
  (guard as { [CHUNK_SELF_TIMED]?: unknown })[CHUNK_SELF_TIMED] = guard.checkChunk;
  // A quote whole before its item goes out; and having a hook holds a stream from its first side
  // text to the end check (call-stream.ts holdToEnd), so nothing unread reaches the reader first.
  const quotes: StreamQuotesHook = {
    quote: (ctx, text) => (text.length === 0 ? allow() : wholeText(text, promptGrams(ctx), ctx)),
  };
  (guard as { [STREAM_QUOTES]?: StreamQuotesHook })[STREAM_QUOTES] = quotes;
  return guard;
}

/**
 * A fresh allow per call, not one shared frozen object: a host's wrapper may set fields on the
 * decision it gets (turn it into a block, say); on a frozen object that throws in strict mode
 * and the runner would read the throw as the guard failing, not as the block meant.
 */
function allow(): OutputDecision {
  return { action: 'allow' };
}
