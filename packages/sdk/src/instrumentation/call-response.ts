import { reportTelemetryError } from '../errors.ts';
import type { Body, ResponseSummary } from './adapter.ts';
import { observeCallStream, type StreamingCall } from './call-stream.ts';
import { OutputBlockedError } from './errors.ts';
import { failClosedOutput } from './guard-decisions.ts';
import { runOutputGuards, type OutputResult } from './guard-runner.ts';
import { guardTextOf, rewriteTexts, WITHHELD, withOutputTexts, type OutputTexts } from './output-texts.ts';
import { KeptText } from './kept-text.ts';
import { outputChars } from './lease.ts';
import { isObservableStream } from './stream.ts';
import { STREAM_LIMIT_FILTER, StreamLimitError } from './stream-limit.ts';
import { UnwritableArguments } from './tool-arguments.ts';

/** What the response side needs from its call (LlmCall implements it). */
export interface RespondingCall extends StreamingCall {
  readonly body: Body;
  /** The call's end was recorded: a later result changes nothing. */
  readonly ended: boolean;
}

/**
 * The response side of a call that is not streamed, and the hand-over of one that is: how the
 * call hooks into the library's APIPromise without changing what it returns, and the output
 * guards on a complete response. Apart from call.ts because it depends on the client library's
 * promise internals (openai 7, @anthropic-ai/sdk 1), not on the call's own state.
 */

/** Attaches to the library's APIPromise; returns the APIPromise kind the library returned. */
export function attachResponse<T>(call: RespondingCall, result: T): T {
  const p = result as unknown as {
    asResponse?: () => Promise<unknown>;
    _thenUnwrap?: (fn: (data: unknown, props: unknown) => unknown) => T;
    responsePromise?: Promise<unknown>;
    parseResponse?: (client: unknown, props: unknown) => Promise<unknown>;
    parsedPromise?: unknown;
  };
  if (typeof p?._thenUnwrap !== 'function' || typeof p.asResponse !== 'function') {
    // Not the APIPromise we know: end the span when it settles, change nothing.
    if (typeof (result as { then?: unknown })?.then === 'function') {
      (result as unknown as Promise<unknown>).then(
        (data) => {
          try {
            // No output guard runs here: the telemetry's cap (kept-text.ts).
            call.complete(call.adapter.readResponse(data, new KeptText(false)));
          } catch (err) {
            reportTelemetryError('instrumentation', err);
          }
        },
        (err: unknown) => call.fail(err),
      );
    } else {
      call.complete(undefined);
    }
    return result;
  }
  // The HTTP response without parsing the body (what asResponse() waits for): failures (guard
  // blocks, refusals, 429/500 after retries, network) arrive here even if the app never awaits.
  const response = p.responsePromise;
  if (typeof response?.then === 'function') response.then(undefined, failureOf(call));
  else p.asResponse().then(undefined, failureOf(call));
  // Our step goes after the library's own parsing, on the library's own APIPromise: its
  // `parseResponse` is an instance field that every read (then, parse, withResponse) goes
  // through and asResponse() does not, so the body is still parsed only when the app asks.
  // Same as `_thenUnwrap(onData)`, without a second APIPromise and its async step per call.
  if (
    typeof p.parseResponse === 'function' &&
    p.parsedPromise === undefined &&
    Object.hasOwn(p, 'parseResponse')
  ) {
    p.parseResponse = parseThenObserve(call, p, p.parseResponse);
    // openai 7.5x gives each promise its own `_thenUnwrap`, a closure over the library's parse
    // that does not read `parseResponse`: what chains on it (responses.stream()'s ResponseStream,
    // responses.parse()) got the body unobserved, with no span end and no output guard. Our step
    // goes first in that chain too (synchronous: a stream is observed, a sync guard's answer applied).
    const unwrap = p._thenUnwrap;
    if (Object.hasOwn(p, '_thenUnwrap')) p._thenUnwrap = unwrapAfterObserve(call, p, unwrap);
    return result;
  }
  return p._thenUnwrap(observerOf(call));
}

/*
 * The closures attachResponse puts on the library's promise are made by the small functions
 * below, not written as `p.parseResponse = (…) => …`: V8's parser allocates a function literal
 * assigned straight to a property in the old generation (pretenured), and that dead closure then
 * kept its context (the call, the promise, the library's parse) and all they hold through every
 * scavenge until a full collection: 3.5-3.8 KB promoted per call on openai 6 with real providers
 * against 1.1-1.3 KB now and 0.9 KB for the official instrumentation (bench/instrumentation/
 * peer-gc.ts and closure-site-gc.ts, docs/performance/sdk.md 'The promotion was a closure', issue
 * 13); test/instr-young-garbage.test.ts.
 */

/** The call's failure handler for the response promise. */
function failureOf(call: RespondingCall): (err: unknown) => void {
  return (err) => call.fail(err);
}

/** onData for this call, as `_thenUnwrap`'s transform. */
function observerOf(call: RespondingCall): (data: unknown) => unknown {
  return (data) => onData(call, data);
}

/** The library's `parseResponse` with our step after it. */
function parseThenObserve(
  call: RespondingCall,
  p: object,
  parse: (client: unknown, props: unknown) => Promise<unknown>,
): (client: unknown, props: unknown) => Promise<unknown> {
  return (client, props) => parse.call(p, client, props).then((data) => onData(call, data));
}

/** openai 7.5x's own `_thenUnwrap` with our step first. */
function unwrapAfterObserve<T>(
  call: RespondingCall,
  p: object,
  unwrap: (fn: (data: unknown, props: unknown) => unknown) => T,
): (transform: (data: unknown, props: unknown) => unknown) => T {
  return (transform) =>
    unwrap.call(p, (data, props) => {
      const out = onData(call, data);
      // A promise (async output guards): the library's step puts `_request_id` on what this
      // returns, the promise, so it is put on the response here, as the library would.
      return out instanceof Promise
        ? out.then((d) => withRequestId(transform(d, props), props))
        : transform(out, props);
    });
}

/** openai's addRequestID: the response's `x-request-id` as the value's non-enumerable `_request_id`. */
function withRequestId(value: unknown, props: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  if (Object.hasOwn(value, '_request_id')) return value; // set by a step before (not configurable)
  const headers = (props as { response?: { headers?: { get?: unknown } } } | undefined)?.response?.headers;
  if (typeof headers?.get !== 'function') return value;
  try {
    const id: unknown = (headers.get as (name: string) => unknown).call(headers, 'x-request-id');
    Object.defineProperty(value, '_request_id', { value: id, enumerable: false });
  } catch (err) {
    reportTelemetryError('instrumentation', err);
  }
  return value;
}

/** The parsed body: a stream is observed, a complete response goes through the output guards. */
function onData(call: RespondingCall, data: unknown): unknown {
  if (call.ended) return data;
  try {
    if (call.adapter.isStream(call.body) && isObservableStream(data)) {
      observeCallStream(call, data);
      return data;
    }
    const guards = call.adapter.guarded ? call.runtime.outputGuards : [];
    const summary = readComplete(call, data, guards.length > 0);
    if (summary.outputTokens === undefined) summary.outputChars = outputTextChars(call, data);
    if (guards.length === 0) {
      call.complete(summary);
      return data;
    }
    // Each choice and each quote beside the answer on its own (output-texts.ts).
    const texts = call.adapter.outputTexts?.(data, call.body);
    // Only the model's text (an echoed prompt is not: openai-completions.ts).
    if (texts !== undefined) summary.text = texts.answer.join('\n');
    let result;
    try {
      const output =
        texts === undefined
          ? { text: summary.text, toolCalls: summary.toolCalls }
          : withOutputTexts(
              { text: guardTextOf(texts), toolCalls: summary.toolCalls },
              texts.side.length === 0 ? texts.answer : [...texts.answer, ...texts.side],
              texts.tools,
              texts.cuts,
              texts.reasoning,
              texts.audio?.map((i) => texts.answer.length + i),
            );
      result = runOutputGuards(guards, output, call.ctx, call.runtime.metrics);
    } catch (err) {
      call.fail(err, summary);
      throw err;
    }
    if (result instanceof Promise) return afterAsyncGuards(result, call, data, texts, summary);
    return afterOutputGuards(result, call, data, texts, summary);
  } catch (err) {
    if (err instanceof OutputBlockedError) throw err;
    reportTelemetryError('instrumentation', err);
    if (!call.ended) call.complete(undefined);
    return data;
  }
}

/**
 * The complete response's summary, its joined answer under the caps a stream's copy has
 * (kept-text.ts): without output guards 1 Mi characters kept, the rest counted (`droppedChars`,
 * so the call counts `stream_text_truncated` and the captured output is the kept prefix's
 * preview); with them, an answer past 32 Mi characters is blocked, as a guarded stream past it
 * is cut (filter `stream_limit`, its output_filter_block event). Before, the answer was joined
 * whole, a copy of any length beside the body.
 */
function readComplete(call: RespondingCall, data: unknown, guarded: boolean): ResponseSummary {
  try {
    return call.adapter.readResponse(data, new KeptText(guarded));
  } catch (err) {
    if (!(err instanceof StreamLimitError)) throw err;
    const blocked = failClosedOutput(STREAM_LIMIT_FILTER, err.reason, call.ctx);
    call.fail(blocked, blockedSummary(call, data));
    throw blocked;
  }
}

/**
 * The summary of a complete response blocked for its length (readComplete): it was read and its
 * tokens spent, so its model, usage and cost count, and the lease settles on them, as another
 * blocked response's do (onData's `call.fail(err, summary)`). Read under the telemetry's cap: a
 * bounded copy. Its text is not shown (the call is blocked), so what the cap left out is not a
 * truncated telemetry copy (no `stream_text_truncated`); it counts in `outputChars`, the lease's
 * estimate when the response has no usage. Without this the call failed with no summary: 0 tokens,
 * cost 0, the lease settled on its estimate (the review of ff5b2f75).
 */
function blockedSummary(call: RespondingCall, data: unknown): ResponseSummary | undefined {
  try {
    const summary = call.adapter.readResponse(data, new KeptText(false));
    if (summary.outputTokens === undefined) {
      summary.outputChars = outputTextChars(call, data) ?? outputChars(summary);
    }
    delete summary.droppedChars;
    return summary;
  } catch (err) {
    reportTelemetryError('instrumentation', err);
    return undefined;
  }
}

/**
 * The output guards passed: the response as the application gets it (their rewrite written
 * back), and the call completes. A function of its own, not a closure in onData: the defaults'
 * synchronous chain then makes no closure, nor onData a context, per call (issue 13).
 */
function afterOutputGuards(
  r: OutputResult,
  call: RespondingCall,
  data: unknown,
  texts: OutputTexts | undefined,
  summary: ResponseSummary,
): unknown {
  const out = r.text === undefined ? data : rewritten(call, data, texts, r.text, r.by, summary);
  call.complete(summary);
  return out;
}

function afterAsyncGuards(
  result: Promise<OutputResult>,
  call: RespondingCall,
  data: unknown,
  texts: OutputTexts | undefined,
  summary: ResponseSummary,
): Promise<unknown> {
  return result.then(
    (r) => afterOutputGuards(r, call, data, texts, summary),
    (err: unknown) => {
      call.fail(err, summary);
      throw err;
    },
  );
}

/**
 * The response with the guards' rewrite (`r.text`) written back, text by text when the adapter
 * reads several (output-texts.ts); `summary.text` follows. A rewrite that fails (a guard's
 * whole-text rewrite or the write-back throws) is a guard that could not act on text it found
 * something in: the texts are withheld (WITHHELD in each) rather than handed to the app as the
 * provider sent them, and the failure is reported once. Before, the raw response was returned.
 * Should writing WITHHELD fail too, the call rejects with OutputBlockedError (before: returned raw).
 */
function rewritten(
  call: RespondingCall,
  data: unknown,
  texts: OutputTexts | undefined,
  text: string,
  by: OutputResult['by'],
  summary: ResponseSummary,
): unknown {
  try {
    if (texts === undefined) {
      const out = call.adapter.applyOutput(data, text);
      summary.text = text;
      return out;
    }
    const next = rewriteTexts(texts, text, by, call.ctx);
    const out = texts.write(next.answer, next.side);
    summary.text = next.answer.join('\n');
    return out;
  } catch (err) {
    if (err instanceof UnwritableArguments) {
      // Redacted tool-call arguments that are no longer JSON (tool-arguments.ts), or a thinking
      // block redact would change (anthropic-thinking.ts): neither they
      // (the app's tool call would fail to parse them) nor the raw ones go out. Not a failure.
      const blocked = failClosedOutput(err.filter, err.reason, call.ctx);
      call.fail(blocked, summary);
      throw blocked;
    }
    reportTelemetryError('guard', err);
  }
  summary.text = WITHHELD;
  try {
    if (texts === undefined) return call.adapter.applyOutput(data, WITHHELD);
    return texts.write(
      texts.answer.map(() => WITHHELD),
      texts.side.map(() => WITHHELD),
    );
  } catch (err) {
    // Not even the marker could be written (a response the adapter cannot write to): the call
    // fails rather than hand the response over raw (fail closed).
    reportTelemetryError('instrumentation', err);
  }
  const blocked = failClosedOutput(
    'response_rewrite',
    'guard_error: the text could not be withheld',
    call.ctx,
  );
  call.fail(blocked, summary);
  throw blocked;
}

/**
 * A response without an output token count: its output texts' characters (answer, side texts,
 * tool arguments), for the lease to settle on (lease.ts). Undefined (the summary's text is
 * counted) when the adapter has no output texts.
 */
function outputTextChars(call: RespondingCall, data: unknown): number | undefined {
  try {
    const texts = call.adapter.outputTexts?.(data, call.body);
    if (texts === undefined) return undefined;
    let chars = 0;
    for (const t of texts.answer) chars += t.length;
    for (const t of texts.side) chars += t.length;
    return chars;
  } catch (err) {
    // Accounting only: the output guards still run on this response.
    reportTelemetryError('instrumentation', err);
    return undefined;
  }
}
