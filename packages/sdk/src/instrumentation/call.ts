import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_REQUEST_TEMPERATURE,
  ATTR_GEN_AI_REQUEST_TOP_P,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  type Category,
  type EventInputFor,
  type SecurityEvent,
} from '@llmsec/core';
import { getSecurityContext } from '../context.ts';
import { errorTypeOf, reportTelemetryError } from '../errors.ts';
import { num, obj, str, type Body, type ProviderAdapter, type ResponseSummary } from './adapter.ts';
import { captureInput, captureOutput } from './content.ts';
import { GuardrailBlockedError, OutputBlockedError, RateLimitedError } from './errors.ts';
import { runChunkGuards, runInputGuards, runOutputGuards, type InputResult } from './guard-runner.ts';
import { acquireLease, settleLease, type LeaseHolder } from './lease.ts';
import { callStore, type PreparingCall } from './prepare-hook.ts';
import type { LlmRuntime } from './runtime.ts';
import { isObservableStream, observeStream } from './stream.ts';
import type { GuardContext, GuardInput } from './types.ts';

/**
 * One instrumented client call, from the wrapper to the end of its response or stream: its
 * span, its guards, its rate-limit lease, and the telemetry written exactly once at the end
 * (span attributes, GenAI metrics, one `request_completed` event).
 */
export class LlmCall implements PreparingCall, LeaseHolder {
  readonly runtime: LlmRuntime;
  readonly adapter: ProviderAdapter;
  readonly body: Body;
  readonly span: Span;
  /** False when another instrumentation's GenAI span is reused: we add events, it owns the rest. */
  readonly ownSpan: boolean;
  readonly ctx: GuardContext;
  readonly userId: string | undefined;
  readonly secondarySubject: string | undefined;
  lease: unknown;
  private readonly started = performance.now();
  private readonly requestModel: string;
  private claimed: object | undefined;
  private inputPhase: Promise<void> | undefined;
  private view: GuardInput | undefined;
  private ended = false;

  constructor(runtime: LlmRuntime, adapter: ProviderAdapter, body: Body, client: unknown) {
    this.runtime = runtime;
    this.adapter = adapter;
    this.body = body;
    this.requestModel = str(body.model) ?? '';
    const security = getSecurityContext();
    const resolved = runtime.resolveUser?.();
    this.userId = resolved?.userId ?? security.userId;
    this.secondarySubject = resolved?.secondarySubject;
    const existing = activeGenAiSpan();
    this.ownSpan = existing === undefined;
    this.span =
      existing ??
      runtime.tracer.startSpan(`${adapter.operation} ${this.requestModel}`.trim(), {
        kind: SpanKind.CLIENT,
        attributes: this.startAttributes(client, security.conversationId),
      });
    this.ctx = new CallGuardContext(this, security.sessionId, security.conversationId);
    if (runtime.captureContent && this.ownSpan) captureInput(this.span, this.guardView(), runtime.maxContentChars);
  }

  /** Runs the original method with our span active and this call findable by the prepare hook. */
  invoke<T>(fn: () => T): T {
    // The call store only serves the prepare hook (guards, limiter): skip it when there is none.
    const run = this.runtime.needsInputPhase ? () => callStore.run(this, fn) : fn;
    return this.ownSpan ? context.with(trace.setSpan(context.active(), this.span), run) : run();
  }

  emit<C extends Category>(category: C, input: EventInputFor<C>): SecurityEvent | undefined {
    try {
      // The call's ids unless the input names its own (a key present, even undefined, wins, as
      // a spread would); one copy of the input, not a spread per id.
      const full: Record<string, unknown> = { ...input };
      if (this.userId !== undefined && !('userId' in full)) full.userId = this.userId;
      if (this.ctx.sessionId !== undefined && !('sessionId' in full)) full.sessionId = this.ctx.sessionId;
      if (this.ctx.conversationId !== undefined && !('conversationId' in full)) full.conversationId = this.ctx.conversationId;
      full.span = this.span;
      return this.runtime.events.emit(category, full as unknown as EventInputFor<C>);
    } catch (err) {
      reportTelemetryError('instrumentation', err);
      return undefined;
    }
  }

  // --- before the request: guards, then the limiter (prepare hook) ---

  beforeRequest(options: { body?: unknown }): Promise<void> | undefined {
    if (this.claimed !== undefined) {
      // A retry of our request re-enters with the same options: the phase already ran.
      return this.claimed === options ? this.inputPhase : undefined;
    }
    this.claimed = options;
    if (!this.runtime.needsInputPhase) return undefined;
    const guards = this.adapter.guarded ? this.runtime.inputGuards : [];
    let result: InputResult | Promise<InputResult> | undefined;
    if (guards.length > 0) {
      result = runInputGuards(guards, this.guardView(), this.ctx, this.runtime.metrics);
    }
    const after = (r: InputResult | undefined): Promise<void> | undefined => {
      if (r?.modified === true) options.body = this.adapter.applyInput(obj(options.body) ?? this.body, r.input.messages, r.input.system);
      return acquireLease(this);
    };
    if (result instanceof Promise) {
      this.inputPhase = result.then(after);
    } else {
      this.inputPhase = after(result);
    }
    return this.inputPhase;
  }

  /** The provider-independent view of the original request (computed once). */
  guardView(): GuardInput {
    this.view ??= this.adapter.guardInput(this.body);
    return this.view;
  }

  promptLength(): number {
    const v = this.guardView();
    let n = 0;
    for (const m of v.messages) n += m.content.length;
    // Anthropic's system prompt is not a message; OpenAI's system messages are already counted.
    if (this.adapter.provider === 'anthropic') n += v.system.length;
    return n;
  }

  estimatedOutputTokens(): number {
    return num(this.body.max_tokens) ?? num(this.body.max_completion_tokens) ?? num(this.body.max_output_tokens) ?? 0;
  }

  // --- after: the response, or the stream ---

  /** Attaches to the library's APIPromise; returns the APIPromise kind the library returned. */
  attach<T>(result: T): T {
    const p = result as unknown as {
      asResponse?: () => Promise<unknown>;
      _thenUnwrap?: (fn: (data: unknown) => unknown) => T;
    };
    if (typeof p?._thenUnwrap !== 'function' || typeof p.asResponse !== 'function') {
      // Not the APIPromise we know: end the span when it settles, change nothing.
      if (typeof (result as { then?: unknown })?.then === 'function') {
        (result as unknown as Promise<unknown>).then(
          (data) => {
            try {
              this.complete(this.adapter.readResponse(data));
            } catch (err) {
              reportTelemetryError('instrumentation', err);
            }
          },
          (err: unknown) => this.fail(err),
        );
      } else {
        this.complete(undefined);
      }
      return result;
    }
    // asResponse() waits for the HTTP response without parsing the body: failures (guard
    // blocks, refusals, 429/500 after retries, network) arrive here even if the app never awaits.
    p.asResponse().then(undefined, (err: unknown) => this.fail(err));
    return p._thenUnwrap((data) => this.onData(data));
  }

  private onData(data: unknown): unknown {
    if (this.ended) return data;
    try {
      if (this.adapter.isStream(this.body) && isObservableStream(data)) {
        this.observe(data);
        return data;
      }
      const summary = this.adapter.readResponse(data);
      const guards = this.adapter.guarded ? this.runtime.outputGuards : [];
      if (guards.length === 0) {
        this.complete(summary);
        return data;
      }
      let result;
      try {
        result = runOutputGuards(guards, { text: summary.text, toolCalls: summary.toolCalls }, this.ctx, this.runtime.metrics);
      } catch (err) {
        this.fail(err, summary);
        throw err;
      }
      const finish = (r: { text: string | undefined }): unknown => {
        let out = data;
        if (r.text !== undefined) {
          out = this.adapter.applyOutput(data, r.text);
          summary.text = r.text;
        }
        this.complete(summary);
        return out;
      };
      if (result instanceof Promise) {
        return result.then(finish, (err: unknown) => {
          this.fail(err, summary);
          throw err;
        });
      }
      return finish(result);
    } catch (err) {
      if (err instanceof OutputBlockedError) throw err;
      reportTelemetryError('instrumentation', err);
      if (!this.ended) this.complete(undefined);
      return data;
    }
  }

  private observe(stream: Parameters<typeof observeStream>[0]): void {
    const acc = this.adapter.newStream();
    const guards = this.adapter.guarded ? this.runtime.outputGuards : [];
    const chunkGuards = this.runtime.hasChunkGuards && guards.length > 0;
    let text = '';
    observeStream(stream, {
      accumulator: acc,
      onDelta: (delta) => {
        text += delta;
        if (chunkGuards) runChunkGuards(guards, text, delta, this.ctx, this.runtime.metrics);
      },
      onEnd: async (complete) => {
        const summary = acc.summary();
        if (!complete) {
          this.abandon(summary);
          return;
        }
        if (guards.length > 0) {
          // The text has been delivered; a block here still records the event and fails the read.
          try {
            await runOutputGuards(guards, { text: summary.text, toolCalls: summary.toolCalls }, this.ctx, this.runtime.metrics);
          } catch (err) {
            this.fail(err, summary);
            throw err;
          }
        }
        this.complete(summary);
      },
      onError: (err) => this.fail(err, acc.summary()),
      onAbandon: () => this.abandon(acc.summary()),
    });
  }

  // --- the end, exactly once ---

  complete(summary: ResponseSummary | undefined): void {
    this.finish(summary, undefined, 'allowed');
  }

  fail(err: unknown, summary?: ResponseSummary): void {
    const outcome =
      err instanceof GuardrailBlockedError || err instanceof OutputBlockedError
        ? 'blocked'
        : err instanceof RateLimitedError
          ? 'rate_limited'
          : 'error';
    this.finish(summary, errorClass(err), outcome);
  }

  /** The stream stopped before the provider's last item: the app broke off or aborted it. */
  abandon(summary: ResponseSummary): void {
    this.finish(summary, 'aborted', 'allowed');
  }

  private finish(summary: ResponseSummary | undefined, errorType: string | undefined, outcome: string): void {
    if (this.ended) return;
    this.ended = true;
    try {
      const seconds = (performance.now() - this.started) / 1000;
      const model = summary?.model ?? this.requestModel;
      const inTok = summary?.inputTokens;
      const outTok = summary?.outputTokens;
      const m = this.runtime.metrics;
      const { operation, provider } = this.adapter;
      const requestModel = this.requestModel;
      if (inTok !== undefined) m.recordTokenUsage({ operation, provider, model: requestModel, tokens: inTok, tokenType: 'input' });
      if (outTok !== undefined) m.recordTokenUsage({ operation, provider, model: requestModel, tokens: outTok, tokenType: 'output' });
      m.recordOperationDuration(
        errorType !== undefined
          ? { operation, provider, model: requestModel, seconds, errorType }
          : { operation, provider, model: requestModel, seconds },
      );
      const cost = this.costUsd(model, inTok ?? 0, outTok ?? 0);
      // Cancel only when the provider used nothing we know of (failed call); blocked output and
      // aborted streams did consume tokens.
      const consumed = errorType === undefined || outcome === 'blocked' || errorType === 'aborted' || inTok !== undefined;
      settleLease(this, consumed ? { inTok, outTok, model } : undefined);
      this.emit('request_completed', {
        metadata: {
          model,
          prompt_tokens: inTok ?? 0,
          completion_tokens: outTok ?? 0,
          latency_ms: Math.round(seconds * 1e6) / 1e3,
          cost_usd: cost,
          prompt_length: this.promptLength(),
          blocked: outcome === 'blocked',
          outcome,
        },
      });
      if (this.ownSpan) this.endSpan(summary, errorType);
    } catch (err) {
      reportTelemetryError('instrumentation', err);
      if (this.ownSpan) safeEnd(this.span);
    }
  }

  costUsd(model: string, inTok: number, outTok: number): number {
    return this.runtime.cost(model, inTok, outTok) ?? this.runtime.cost(this.requestModel, inTok, outTok) ?? 0;
  }

  private endSpan(summary: ResponseSummary | undefined, errorType: string | undefined): void {
    const attrs: Attributes = {};
    if (summary?.id !== undefined) attrs[ATTR_GEN_AI_RESPONSE_ID] = summary.id;
    if (summary?.model !== undefined) attrs[ATTR_GEN_AI_RESPONSE_MODEL] = summary.model;
    if (summary !== undefined && summary.finishReasons.length > 0) attrs[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = summary.finishReasons;
    if (summary?.inputTokens !== undefined) attrs[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = summary.inputTokens;
    if (summary?.outputTokens !== undefined) attrs[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = summary.outputTokens;
    if (errorType !== undefined) attrs[ATTR_ERROR_TYPE] = errorType;
    this.span.setAttributes(attrs);
    if (this.runtime.captureContent && summary !== undefined) captureOutput(this.span, summary.text, this.runtime.maxContentChars);
    // The status message is the error class, never the error text (it may quote the prompt).
    if (errorType !== undefined) this.span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
    this.span.end();
  }

  private startAttributes(client: unknown, conversationId: string | undefined): Attributes {
    const b = this.body;
    const attrs: Attributes = {
      [ATTR_GEN_AI_OPERATION_NAME]: this.adapter.operation,
      [ATTR_GEN_AI_PROVIDER_NAME]: this.adapter.provider,
      [ATTR_GEN_AI_REQUEST_MODEL]: this.requestModel,
    };
    const maxTokens = num(b.max_tokens) ?? num(b.max_completion_tokens) ?? num(b.max_output_tokens);
    if (maxTokens !== undefined) attrs[ATTR_GEN_AI_REQUEST_MAX_TOKENS] = maxTokens;
    const temperature = num(b.temperature);
    if (temperature !== undefined) attrs[ATTR_GEN_AI_REQUEST_TEMPERATURE] = temperature;
    const topP = num(b.top_p);
    if (topP !== undefined) attrs[ATTR_GEN_AI_REQUEST_TOP_P] = topP;
    if (b.stream === true) attrs[ATTR_GEN_AI_REQUEST_STREAM] = true;
    if (conversationId !== undefined) attrs[ATTR_GEN_AI_CONVERSATION_ID] = conversationId;
    const server = serverOf(client);
    if (server !== undefined) {
      attrs[ATTR_SERVER_ADDRESS] = server.address;
      attrs[ATTR_SERVER_PORT] = server.port;
    }
    return attrs;
  }
}

/**
 * The GuardContext of one call. `input` is computed on first read (output-only guard sets need
 * the request view too) and replaced by input guards as they modify the request. A class, not
 * an object literal with accessors, because it is built on every call.
 */
class CallGuardContext implements GuardContext {
  readonly userId: string | undefined;
  readonly sessionId: string | undefined;
  readonly conversationId: string | undefined;
  readonly span: Span;
  private readonly call: LlmCall;
  private override: GuardInput | undefined;

  constructor(call: LlmCall, sessionId: string | undefined, conversationId: string | undefined) {
    this.call = call;
    this.userId = call.userId;
    this.sessionId = sessionId;
    this.conversationId = conversationId;
    this.span = call.span;
  }

  get input(): GuardInput {
    return this.override ?? this.call.guardView();
  }

  set input(value: GuardInput) {
    this.override = value;
  }

  emit<C extends Category>(category: C, input: EventInputFor<C>): SecurityEvent | undefined {
    return this.call.emit(category, input);
  }
}

/** Another GenAI instrumentation's span for this call (it wraps outside us), if one is active. */
function activeGenAiSpan(): Span | undefined {
  const span = trace.getActiveSpan();
  if (span === undefined || !span.isRecording()) return undefined;
  const a = (span as unknown as { attributes?: Attributes; kind?: SpanKind; ended?: boolean });
  if (a.ended === true || a.attributes === undefined) return undefined;
  const attrs = a.attributes;
  const genAi =
    attrs[ATTR_GEN_AI_OPERATION_NAME] !== undefined ||
    attrs['gen_ai.system'] !== undefined ||
    attrs['openinference.span.kind'] === 'LLM' ||
    attrs['openinference.span.kind'] === 'EMBEDDING';
  return genAi && (a.kind === undefined || a.kind === SpanKind.CLIENT || attrs['openinference.span.kind'] !== undefined) ? span : undefined;
}

const serverCache = new WeakMap<object, { address: string; port: number } | null>();

function serverOf(client: unknown): { address: string; port: number } | undefined {
  if (typeof client !== 'object' || client === null) return undefined;
  const cached = serverCache.get(client);
  if (cached !== undefined) return cached ?? undefined;
  let out: { address: string; port: number } | null = null;
  try {
    const base = (client as { baseURL?: unknown }).baseURL;
    if (typeof base === 'string') {
      const u = new URL(base);
      out = { address: u.hostname, port: u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 80 };
    }
  } catch {
    out = null;
  }
  serverCache.set(client, out);
  return out ?? undefined;
}

function safeEnd(span: Span): void {
  try {
    span.end();
  } catch {
    // Ending is best effort here: we are already reporting a failure.
  }
}

/**
 * Low-cardinality `error.type`: the error's class (client errors keep `name === 'Error'` but
 * have meaningful classes: RateLimitError, InternalServerError, APIUserAbortError).
 */
function errorClass(err: unknown): string {
  try {
    const ctor = (err as { constructor?: { name?: unknown } } | null)?.constructor?.name;
    if (typeof ctor === 'string' && ctor !== '' && ctor !== 'Error' && ctor !== 'Object') return ctor.slice(0, 64);
  } catch {
    // fall through to the generic form
  }
  return errorTypeOf(err);
}
