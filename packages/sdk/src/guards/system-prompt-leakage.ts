import type { GuardContext, GuardOutput, OutputDecision, OutputGuard } from '../instrumentation/types.ts';

/**
 * System-prompt leakage in responses, two ways: a canary token planted in the system prompt
 * appearing in the output (certain: confidence 1), or word n-gram overlap between the output
 * and the system prompt (the share of the prompt's n-grams the output repeats; confidence =
 * that share). A leak emits `system_prompt_leakage` and blocks the response (the runner then
 * emits `output_filter_block` with filter_name = this layer). Streams are checked as they
 * pass, so a leak is cut mid-stream.
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
  /** @default 'system_prompt_leakage' */
  layer?: string;
}

const MAX_CACHED_PROMPTS = 64;
/** Streams: re-check the n-gram overlap each time this many characters arrived. */
const CHUNK_STEP = 64;

/** Synchronous on both paths (it runs between stream chunks). */
export interface SystemPromptLeakageGuard extends OutputGuard {
  checkResponse(output: GuardOutput, ctx: GuardContext): OutputDecision;
  checkChunk(accumulated: string, delta: string, ctx: GuardContext): OutputDecision;
}

export function systemPromptLeakageGuard(options: SystemPromptLeakageOptions = {}): SystemPromptLeakageGuard {
  const n = options.ngram ?? 8;
  const threshold = options.threshold ?? 0.5;
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`systemPromptLeakageGuard: ngram must be a positive integer, got ${String(n)}`);
  if (!(threshold > 0 && threshold <= 1)) throw new TypeError(`systemPromptLeakageGuard: threshold must be in (0, 1], got ${String(threshold)}`);
  const canary = options.canary !== undefined && options.canary.length > 0 ? options.canary : undefined;
  const layer = options.layer ?? 'system_prompt_leakage';
  const fixed = options.systemPrompt !== undefined ? grams(options.systemPrompt, n) : undefined;
  // Per-request system prompts: their n-gram sets, bounded (oldest evicted first).
  const cache = new Map<string, Grams>();
  const lastChecked = new WeakMap<GuardContext, number>();

  function promptGrams(ctx: GuardContext): Grams | undefined {
    if (fixed !== undefined) return fixed;
    const system = ctx.input?.system ?? '';
    if (system.length === 0) return undefined;
    let set = cache.get(system);
    if (set === undefined) {
      set = grams(system, n);
      if (cache.size >= MAX_CACHED_PROMPTS) cache.delete(cache.keys().next().value as string);
      cache.set(system, set);
    }
    return set;
  }

  function judge(text: string, ctx: GuardContext): OutputDecision {
    if (canary !== undefined && text.includes(canary)) return leak('canary_token', 1, ctx);
    const prompt = promptGrams(ctx);
    if (prompt === undefined || prompt.set.size === 0) return { action: 'allow' };
    const ratio = overlap(prompt, text);
    return ratio >= threshold ? leak('ngram_overlap', Math.round(ratio * 1000) / 1000, ctx) : { action: 'allow' };
  }

  function leak(method: string, confidence: number, ctx: GuardContext): OutputDecision {
    ctx.emit('system_prompt_leakage', {
      description: `response repeats the system prompt (${method})`,
      metadata: { detection_method: method, confidence },
    });
    return { action: 'block', reason: `system prompt leakage (${method}, confidence ${confidence})`, severity: 'critical' };
  }

  return {
    name: 'systemPromptLeakageGuard',
    layer,
    checkResponse(output: GuardOutput, ctx: GuardContext): OutputDecision {
      return output.text.length === 0 ? { action: 'allow' } : judge(output.text, ctx);
    },
    checkChunk(accumulated: string, delta: string, ctx: GuardContext): OutputDecision {
      if (canary !== undefined) {
        // The canary may straddle chunks: look at the delta plus the canary's length before it.
        const tail = accumulated.slice(-(delta.length + canary.length));
        if (tail.includes(canary)) return leak('canary_token', 1, ctx);
      }
      const last = lastChecked.get(ctx) ?? 0;
      if (accumulated.length - last < CHUNK_STEP) return { action: 'allow' };
      lastChecked.set(ctx, accumulated.length);
      const prompt = promptGrams(ctx);
      if (prompt === undefined || prompt.set.size === 0) return { action: 'allow' };
      const ratio = overlap(prompt, accumulated);
      return ratio >= threshold ? leak('ngram_overlap', Math.round(ratio * 1000) / 1000, ctx) : { action: 'allow' };
    },
  };
}

/** Lower-cased words (letters and digits), punctuation and spacing ignored. */
function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

interface Grams {
  set: Set<string>;
  /** Words per gram: n, or fewer for a prompt shorter than n words. */
  size: number;
  /** Every word of the prompt: a window with a word outside it cannot match, so it is skipped. */
  vocabulary: Set<string>;
}

/** Word n-grams; a text shorter than n words is one gram (all its words). */
function grams(text: string, n: number): Grams {
  const w = words(text);
  const set = new Set<string>();
  const size = Math.min(n, w.length);
  for (let i = 0; size > 0 && i + size <= w.length; i++) set.add(w.slice(i, i + size).join(' '));
  return { set, size, vocabulary: new Set(w) };
}

/**
 * Share of the prompt's grams found in the text. Only runs of at least `size` consecutive
 * prompt words can match, so ordinary answers build almost no gram strings (the hot path).
 */
function overlap(prompt: Grams, text: string): number {
  const w = words(text);
  const seen = new Set<string>();
  let run = 0;
  for (let i = 0; i < w.length; i++) {
    run = prompt.vocabulary.has(w[i] as string) ? run + 1 : 0;
    if (run >= prompt.size) {
      const g = w.slice(i - prompt.size + 1, i + 1).join(' ');
      if (prompt.set.has(g)) seen.add(g);
    }
  }
  return seen.size / prompt.set.size;
}
