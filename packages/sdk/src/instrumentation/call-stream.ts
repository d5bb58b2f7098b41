import type { Body, ProviderAdapter, ResponseSummary, StreamAccumulator } from './adapter.ts';
import { runChunkGuards, runQuoteChecks } from './chunk-guards.ts';
import { failClosedOutput } from './guard-decisions.ts';
import { reportTelemetryError } from '../errors.ts';
import { runOutputGuards } from './guard-runner.ts';
import type { LlmRuntime } from './runtime.ts';
import { observeStream, type StreamObserver } from './stream.ts';
import { STREAM_LIMIT_FILTER, StreamLimitError } from './stream-limit.ts';
import { WITHHELD, withOutputTexts } from './output-texts.ts';
import { StreamText } from './stream-text.ts';
import type { StreamItemRewrite, StreamRewriter } from './stream-rewriter.ts';
import { readableJson, UnwritableArguments } from './tool-arguments.ts';
import type { GuardContext, GuardOutput, OutputGuard } from './types.ts';

/** What stream observation needs from its call (LlmCall implements it). */
export interface StreamingCall {
  readonly runtime: LlmRuntime;
  /** The request as the application made it. */
  readonly body: Body;
  readonly adapter: ProviderAdapter;
  readonly ctx: GuardContext;
  complete(summary: ResponseSummary | undefined): void;
  fail(err: unknown, summary?: ResponseSummary): void;
  abandon(summary: ResponseSummary): void;
}

/**
 * Observes a streamed response: every delta goes through the chunk guards before the
 * application sees the item (a block cuts the stream; a hold keeps items back until a later
 * delta releases them or the response passes its checks); at the end, the output guards on the
 * whole text, then the call completes. A stream the application stops reading is abandoned.
 */
export function observeCallStream(call: StreamingCall, stream: Parameters<typeof observeStream>[0]): void {
  observeStream(stream, new CallStreamObserver(call));
}

/**
 * The observer of one call's stream. A class, not an object literal of closures: built on every
 * streamed call, it is one object, where the literal was six closures and their context, and
 * the end of a stream whose guards answer synchronously (the defaults) makes no closure (issue 13).
 */
class CallStreamObserver implements StreamObserver {
  readonly accumulator: StreamAccumulator;
  readonly deliver: ((item: unknown) => unknown) | undefined;
  private readonly call: StreamingCall;
  /** The adapter's own accumulator (`accumulator` may be it with the quote checks around it). */
  private readonly acc: StreamAccumulator;
  private readonly guards: readonly OutputGuard[];
  private readonly rewriter: StreamRewriter | undefined;
  private readonly quoteHooks: boolean;
  /** The stream has chunk checks (output guards with one): each delta goes through them. */
  private readonly chunked: boolean;
  /** The text so far, for the chunk checks: made at the first delta with text. */
  private text: StreamText | undefined;

  constructor(call: StreamingCall) {
    const runtime = call.runtime;
    const guards = call.adapter.guarded ? runtime.outputGuards : [];
    // Without output guards nothing needs every part read: a cap is no reason to cut the stream.
    const acc = call.adapter.newStream(call.body, guards.length > 0);
    const chunkGuards = runtime.hasChunkGuards && guards.length > 0;
    this.call = call;
    this.acc = acc;
    this.guards = guards;
    this.rewriter = chunkGuards ? runtime.streamRewriter : undefined;
    this.deliver = this.rewriter !== undefined ? rewriteItems(call, this.rewriter) : undefined;
    this.quoteHooks = chunkGuards && runtime.streamQuotesHooks.length > 0;
    this.accumulator = this.quoteHooks ? new QuoteCheckedAccumulator(call, acc) : acc;
    this.chunked = chunkGuards;
  }

  /**
   * Each delta's chunk checks: the guards that have one (found once per runtime), on the text
   * so far. Streams of several texts interleaved (chat with n > 1): before them, the built-in
   * chunk guards are told which lane each piece of the delta is, so they check (and piiGuard
   * redact rewrites) each text on its own. A method reading the observer's fields, not a
   * closure made per stream with the text in an object of its own (issue 13).
   */
  onDelta(delta: string, item: unknown): number {
    if (!this.chunked) return 0;
    const call = this.call;
    const runtime = call.runtime;
    const hooks = runtime.streamLanesHooks;
    if (hooks.length > 0) lanes(call, hooks, item);
    const text = (this.text ??= new StreamText());
    return runChunkGuards(
      runtime.chunkGuards,
      text.append(delta, this.acc.text),
      delta,
      call.ctx,
      runtime.metrics,
    );
  }

  /**
   * A guard that blocks before delivery (piiGuard block): text it cannot read before delivery
   * (a refusal's pieces) is held, with what follows, until the end check has read it. Before,
   * the pieces reached the reader and the end check blocked after.
   */
  holdToEnd(): boolean {
    return this.quoteHooks && this.acc.unchecked === true;
  }

  // Synchronous when the output guards are (the defaults are): no promise and no microtask
  // of its own at the end of every stream; a promise only when a guard returns one.
  onEnd(complete: boolean, release: () => void): void | Promise<void> {
    const call = this.call;
    if (this.deliver !== undefined) endRewrite(call, this.rewriter as StreamRewriter);
    const summary = this.acc.summary();
    // A stream without its terminal item (a cut connection, a server that leaves it out) is
    // checked too: the items the chunk checks held back are released after this returns.
    if (this.guards.length > 0) {
      let checked;
      try {
        checked = runOutputGuards(this.guards, endOutput(summary), call.ctx, call.runtime.metrics);
      } catch (err) {
        return endFailed(call, summary, err);
      }
      if (checked instanceof Promise) return endAfter(checked, call, summary, complete, release);
    }
    endPassed(call, summary, complete, release);
  }

  onError(err: unknown): unknown {
    // An accumulator's fail-closed cut is reported as the block it is, with its event.
    const shown =
      err instanceof StreamLimitError
        ? failClosedOutput(STREAM_LIMIT_FILTER, err.reason, this.call.ctx)
        : err;
    this.call.fail(shown, this.acc.summary());
    return shown;
  }

  onAbandon(): void {
    this.call.abandon(this.acc.summary());
  }
}

/** The end checks failed: the text has been delivered; a block here still records the event and fails the read. */
function endFailed(call: StreamingCall, summary: ResponseSummary, err: unknown): never {
  call.fail(err, summary);
  throw err;
}

/**
 * The end checks passed. The held items are made what the reader gets before the outcome is
 * recorded: one that cannot be (the withhold marker not written) fails the call as the reader's
 * read fails. Before, the call was recorded as completed and the reader then got the error.
 */
function endPassed(
  call: StreamingCall,
  summary: ResponseSummary,
  complete: boolean,
  release: () => void,
): void {
  try {
    release();
  } catch (err) {
    return endFailed(call, summary, err);
  }
  settle(call, summary, complete);
}

/** An async end check: the same, when it settles. */
function endAfter(
  checked: Promise<unknown>,
  call: StreamingCall,
  summary: ResponseSummary,
  complete: boolean,
  release: () => void,
): Promise<void> {
  return checked.then(
    () => endPassed(call, summary, complete, release),
    (err: unknown) => endFailed(call, summary, err),
  );
}

/** Tells the lane hooks which lane (chat choice) each piece of the item's delta is; a hook that throws is reported. */
function lanes(call: StreamingCall, hooks: LlmRuntime['streamLanesHooks'], item: unknown): void {
  const lanesOf = call.adapter.streamLanes;
  if (lanesOf === undefined) return;
  try {
    const split = lanesOf(item);
    if (split !== undefined) for (const h of hooks) h.lanes(call.ctx, split);
  } catch (err) {
    reportTelemetryError('guard', err);
  }
}

/**
 * The accumulator with the quote hooks (piiGuard block) run on each quote an item adds, before
 * the item is delivered: a throw from `observe` cuts the stream there (stream.ts). Before, the
 * quotes were read only by the end check, after the annotation chunk or citations_delta that
 * carried them had reached the reader. Only on streams with such a hook (the defaults': the
 * leakage guard has one). A class: an object literal with getters is made in dictionary mode,
 * each one of them, which every read of the stream then looked up by name (issue 13).
 */
class QuoteCheckedAccumulator implements StreamAccumulator {
  private readonly call: StreamingCall;
  private readonly acc: StreamAccumulator;

  constructor(call: StreamingCall, acc: StreamAccumulator) {
    this.call = call;
    this.acc = acc;
  }

  observe(item: unknown): string {
    const acc = this.acc;
    const from = acc.quotes?.length ?? 0;
    const delta = acc.observe(item);
    const quotes = acc.quotes;
    if (quotes !== undefined && quotes.length > from) {
      const runtime = this.call.runtime;
      runQuoteChecks(runtime.streamQuotesHooks, quotes, from, this.call.ctx, runtime.metrics);
    }
    return delta;
  }

  summary(): ResponseSummary {
    return this.acc.summary();
  }

  get complete(): boolean {
    return this.acc.complete;
  }

  get text(): string | undefined {
    return this.acc.text;
  }

  get quotes(): readonly string[] | undefined {
    return this.acc.quotes;
  }

  get unchecked(): boolean | undefined {
    return this.acc.unchecked;
  }
}

/**
 * A guard that rewrites the stream (piiGuard redact, stream-rewriter.ts): every item the reader
 * gets passes through it. A rewrite that throws is a guard that cannot say what of the text is
 * safe: the item and every later one go out with their text withheld (withholdingRewrite), and
 * the failure is reported once. Never the raw item: before, it went out as the provider sent it,
 * so a finding the guard was holding back reached the reader whole. Should writing the marker
 * fail too, the read fails (OutputBlockedError): fail closed, never the raw item.
 */
function rewriteItems(call: StreamingCall, rewriter: StreamRewriter) {
  const rewriteItem = call.adapter.rewriteStreamItem;
  if (rewriteItem === undefined) return undefined;
  const ctx = call.ctx;
  const rw: StreamItemRewrite = {
    next: (t, lane) => rewriter.next(ctx, t, lane),
    changes: (lane) => rewriter.changes?.(ctx, lane),
    whole: (t) => rewriter.whole(ctx, t),
    offsets: {},
  };
  let withhold: StreamItemRewrite | undefined;
  return (item: unknown): unknown => {
    if (withhold === undefined) {
      try {
        return rewriteItem(item, rw);
      } catch (err) {
        // Redacted tool-call arguments that are no longer JSON, or a thinking block redact would
        // change (tool-arguments.ts, anthropic-thinking.ts): a block, not
        // a failure; the read fails here, the item not delivered.
        if (err instanceof UnwritableArguments) throw failClosedOutput(err.filter, err.reason, ctx);
        reportTelemetryError('guard', err);
        withhold = withholdingRewrite();
      }
    }
    try {
      return rewriteItem(item, withhold);
    } catch (err) {
      // Not even the marker could be written (an item the adapter cannot write to): the item
      // is not handed over raw; the read fails here (stream.ts cuts the stream on a throw).
      reportTelemetryError('instrumentation', err);
      throw failClosedOutput(STREAM_FILTER, 'guard_error: the text could not be withheld', ctx);
    }
  };
}

/** The filter an OutputBlockedError names when a stream's text could not be rewritten nor withheld. */
const STREAM_FILTER = 'stream_rewrite';

/** Lanes (chat choices) that keep their own placeholder; past this, every delta gets one. */
const MAX_WITHHELD_LANES = 1024;

/**
 * The rewrite after a failure: each lane's first delta becomes WITHHELD and its later deltas '',
 * every whole text (done events, the final response, quotes) WITHHELD.
 */
function withholdingRewrite(): StreamItemRewrite {
  const marked = new Set<number>();
  return {
    next: (_t, lane = 0) => {
      if (marked.has(lane)) return '';
      if (marked.size < MAX_WITHHELD_LANES) marked.add(lane);
      return WITHHELD;
    },
    whole: () => WITHHELD,
    offsets: {},
  };
}

/** The stream ended: what the rewriter held is final, before the held items are delivered. */
function endRewrite(call: StreamingCall, rewriter: StreamRewriter): void {
  try {
    rewriter.end(call.ctx);
  } catch (err) {
    reportTelemetryError('guard', err);
  }
}

/** The end checks passed: the call completes, or is abandoned when the provider's terminal item never came. */
function settle(call: StreamingCall, summary: ResponseSummary, complete: boolean): void {
  if (complete) call.complete(summary);
  else call.abandon(summary);
}

/**
 * What the end checks read: the answer, then the quotes beside it (as guardTextOf); with the
 * texts that joins when there are several (the choices, the quotes), for a guard whose limits
 * are per text (piiGuard's cap: before, a padded choice hid an address in the next one from
 * the end check, detect mode's only check).
 */
function endOutput(summary: ResponseSummary): GuardOutput {
  const side = summary.side ?? [];
  const answer = summary.texts ?? [summary.text];
  // Tool calls' arguments (tool-arguments.ts): after the quotes, the guards told which they are.
  // Read as the plain answer's are: escapes' letters as spaces (readableJson).
  // The model's reasoning after them, read as it came (prose, not JSON).
  const tools = summary.toolArguments?.map(readableJson);
  const reasoning = summary.reasoning;
  // Audio transcripts, the last side texts (chat): piiGuard says when its rewrite removes their audio.
  const audio = transcriptIndices(answer.length + side.length, summary.transcripts);
  if ((tools !== undefined && tools.length > 0) || (reasoning !== undefined && reasoning.length > 0)) {
    const after = [...side, ...(tools ?? []), ...(reasoning ?? [])];
    const output = { text: `${summary.text}\n${after.join('\n')}`, toolCalls: summary.toolCalls };
    const n = reasoning?.length ?? 0;
    return withOutputTexts(output, [...answer, ...after], tools?.length ?? 0, summary.cuts, n, audio);
  }
  const text = side.length === 0 ? summary.text : `${summary.text}\n${side.join('\n')}`;
  const output = { text, toolCalls: summary.toolCalls };
  const cuts = summary.texts === undefined ? summary.cuts : undefined;
  if (cuts !== undefined || audio !== undefined)
    return withOutputTexts(output, [...answer, ...side], 0, cuts, 0, audio);
  return answer.length + side.length > 1 ? withOutputTexts(output, [...answer, ...side]) : output;
}

/** The indices of the last `n` of the first `end` texts; undefined when none. */
function transcriptIndices(end: number, n: number | undefined): number[] | undefined {
  if (n === undefined || n === 0) return undefined;
  return Array.from({ length: n }, (_, i) => end - n + i);
}
