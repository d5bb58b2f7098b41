import type { HeldReasoning } from './chat-reasoning.ts';
import type { StreamOffsets } from './stream-offsets.ts';
import type { GuardContext, OutputDecision, OutputGuard } from './types.ts';

/**
 * How a built-in output guard rewrites a streamed response's text before the reader gets it
 * (piiGuard redact). Internal: a chunk guard that has one holds back, with its `checkChunk`'s
 * `holdChars`, the text it has not decided yet; everything before is final, and the stream
 * observer passes each item it delivers through `next` (the items' text, in order), so the
 * reader's deltas join to the rewritten text. Not public: composing the rewrites of several
 * guards over one stream is not defined, so only the first output guard that has one rewrites.
 */
export interface StreamRewriter {
  /**
   * The next `text.length` characters of the stream's text, as the reader gets them. Only called
   * for text the guard's chunk checks released (or that the stream's end made final). `lane`:
   * which of the texts interleaved in the stream they belong to (a chat choice's index), as
   * `lanes` announced them; absent: 0.
   */
  next(ctx: GuardContext, text: string, lane?: number): string;
  /**
   * Where the last `next` of `lane` changed its text: flat [start, end, replacement length] per
   * span of that text, in order, disjoint; undefined when the rewriter cannot say. Asked only
   * when `next` changed the text (stream-offsets.ts: unchanged text between two changes of one
   * chunk keeps its annotations). Optional.
   */
  changes?(ctx: GuardContext, lane?: number): readonly number[] | undefined;
  /** The stream ended: the text held back is final now (its rewrite is made). */
  end(ctx: GuardContext): void;
  /**
   * A text the stream repeats whole (a done event, the final response): rewritten as a
   * non-streamed response is. `cuts`: where the parts `text` joins meet (a complete answer's
   * Responses parts or Anthropic blocks, output-texts.ts), for a rewriter that reads them apart too.
   */
  whole(ctx: GuardContext, text: string, cuts?: readonly number[]): string;
}

export const STREAM_REWRITER: unique symbol = Symbol('llmsec.streamRewriter');

/**
 * How a built-in chunk guard (piiGuard block and redact) learns that a stream is several texts
 * interleaved (chat with n > 1), so that it checks each on its own. Internal, as the rewriter.
 */
export interface StreamLanesHook {
  /**
   * The next delta (the one the chunk checks get next) is several texts' pieces, in order:
   * `[lane, length]` (adapter.ts `streamLanes`). Not called for a delta wholly of lane 0.
   */
  lanes(ctx: GuardContext, split: ReadonlyArray<readonly [number, number]>): void;
}

export const STREAM_LANES: unique symbol = Symbol('llmsec.streamLanes');

/**
 * How a built-in chunk guard that blocks (piiGuard block) checks a quote beside a streamed
 * answer (an annotation's title or URL, a citation's quoted text) before the item carrying it
 * reaches the reader. Quotes come whole, each in one item, and are not the stream's text the
 * chunk checks read; the end check reads them too, but only after their item was delivered.
 * Internal, as the rewriter.
 */
export interface StreamQuotesHook {
  /** A block cuts the stream before the item is delivered; allow lets it pass. */
  quote(ctx: GuardContext, text: string): OutputDecision;
}

export const STREAM_QUOTES: unique symbol = Symbol('llmsec.streamQuotes');

/** The guards that have a quote hook, each with it. */
export function streamQuotesHooksOf(
  guards: readonly OutputGuard[],
): Array<{ guard: OutputGuard; hook: StreamQuotesHook }> {
  const out: Array<{ guard: OutputGuard; hook: StreamQuotesHook }> = [];
  for (const guard of guards) {
    const hook = (guard as { [STREAM_QUOTES]?: StreamQuotesHook })[STREAM_QUOTES];
    if (hook !== undefined) out.push({ guard, hook });
  }
  return out;
}

/** The guards' lane hooks. */
export function streamLanesHooksOf(guards: readonly OutputGuard[]): StreamLanesHook[] {
  const out: StreamLanesHook[] = [];
  for (const g of guards) {
    const h = (g as { [STREAM_LANES]?: StreamLanesHook })[STREAM_LANES];
    if (h !== undefined) out.push(h);
  }
  return out;
}

/** The first guard's stream rewriter, if one of them has one. */
export function streamRewriterOf(guards: readonly OutputGuard[]): StreamRewriter | undefined {
  for (const g of guards) {
    const r = (g as { [STREAM_REWRITER]?: StreamRewriter })[STREAM_REWRITER];
    if (r !== undefined) return r;
  }
  return undefined;
}

/** One stream's rewrite of its items' text, as the adapters' `rewriteStreamItem` uses it. */
export interface StreamItemRewrite {
  /** The next characters of the stream's text (an item's delta) in `lane` (a chat choice; absent: 0), rewritten. */
  next(text: string, lane?: number): string;
  /** Where the last `next` of `lane` changed its text (StreamRewriter.changes); undefined: not known. */
  changes?(lane?: number): readonly number[] | undefined;
  /** A text the item repeats whole (done events, the final response), rewritten. */
  whole(text: string): string;
  /**
   * Per stream, the chat item rewrite's annotation offsets by choice (stream-offsets.ts):
   * created empty with the stream, so a chunk finds it without a lookup.
   */
  readonly offsets: { first?: StreamOffsets; others?: Map<number, StreamOffsets> };
  /**
   * Per stream, a chat stream's reasoning pieces kept back, by choice and field
   * (chat-reasoning.ts): set on the first, so a chunk of a stream without any needs no lookup.
   */
  reasoning?: Map<string, HeldReasoning>;
  /**
   * Per stream, the characters of text the item rewrites keep back from the reader (held-text.ts):
   * capped at MAX_HELD_CHARS. Absent until the first is kept.
   */
  heldChars?: number;
}
