import { context, trace, type Context, type Span } from '@opentelemetry/api';
import type { Category, EventInputFor, SecurityEvent } from '@llmsec/core';
import { getSecurityContext, type SecurityContext } from '../context.ts';
import { reportTelemetryError } from '../errors.ts';
import { num, str, usageAsCounts, type Body, type ProviderAdapter, type ResponseSummary } from './adapter.ts';
import { CallGuardContext } from './call-guard-context.ts';
import { runInputPhase, type InputPhaseCall } from './call-input-phase.ts';
import { blockSourceOf, errorClass, failureOutcome, type CallOutcome } from './call-outcome.ts';
import { recordCallMetrics } from './call-metrics.ts';
import { attachResponse, type RespondingCall } from './call-response.ts';
import { endCallSpan, safeEnd, startCallSpan } from './call-span.ts';
import { completedMetadata } from './completed-event.ts';
import { hasServerHistory, measureNewInput, rawMessagesOf, type NewInput } from './new-input.ts';
import { captureInput } from './content.ts';
import { STREAM_TEXT_TRUNCATED } from './kept-text.ts';
import { outputChars, settleLease } from './lease.ts';
import { callStore, type PreparingCall } from './prepare-hook.ts';
import type { LlmRuntime } from './runtime.ts';
import { emitInCallContext } from '../security-events.ts';
import type { GuardContext, GuardInput } from './types.ts';
import type { PromptMessage } from '@llmsec/core/internal';
import { plainMessagesOf } from './plain-messages.ts';

/**
 * One instrumented client call, from the wrapper to the end of its response or stream: its
 * guards, its rate-limit lease, and the telemetry written exactly once at the end (`finish`:
 * GenAI metrics, one `request_completed` event, the span's end). The span lifecycle is in
 * call-span.ts, the input phase (guards, lease) in call-input-phase.ts, the response hook and
 * output guards in call-response.ts, stream observation in call-stream.ts, the guard context in
 * call-guard-context.ts, the GenAI metrics in call-metrics.ts, the `request_completed`
 * metadata in completed-event.ts.
 */
export class LlmCall implements PreparingCall, InputPhaseCall, RespondingCall {
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
  private prompt: readonly PromptMessage[] | undefined;
  private finished = false;
  /** The context invoke() ran the call in (the caller's, with our span or the reused one active): the context of the call's events. */
  private callContext: Context | undefined;
  /** The caller's security context, read at the start: also callContext's (which only adds our span). */
  private readonly security: SecurityContext;

  constructor(runtime: LlmRuntime, adapter: ProviderAdapter, body: Body, client: unknown) {
    this.runtime = runtime;
    this.adapter = adapter;
    this.body = body;
    this.requestModel = str(body.model) ?? '';
    const security = getSecurityContext();
    this.security = security;
    const resolved = runtime.resolveUser?.();
    this.userId = resolved?.userId ?? security.userId;
    this.secondarySubject = resolved?.secondarySubject;
    const { span, ownSpan } = startCallSpan(
      runtime,
      adapter,
      body,
      this.requestModel,
      client,
      security.conversationId,
    );
    this.span = span;
    this.ownSpan = ownSpan;
    this.ctx = new CallGuardContext(this, security.sessionId, security.conversationId);
    if (runtime.captureContent && this.ownSpan)
      captureInput(this.span, this.guardView(), runtime.maxContentChars, runtime.captureSystemPrompt);
  }

  /** Runs the original method with our span active and this call findable by the prepare hook. */
  invoke<T>(fn: () => T): T {
    // The call store only serves the prepare hook (guards, limiter): skip it when there is none.
    const run = this.runtime.needsInputPhase ? () => callStore.run(this, fn) : fn;
    if (!this.ownSpan) {
      // The reused span is the active one here: its events, request_completed after a stream
      // read elsewhere included, take this context (and the call's ids), not the reader's.
      this.callContext = context.active();
      return run();
    }
    this.callContext = trace.setSpan(context.active(), this.span);
    return context.with(this.callContext, run);
  }

  emit<C extends Category>(category: C, input: EventInputFor<C>): SecurityEvent | undefined {
    try {
      // The call's ids unless the input names its own (a key present, even undefined, wins, as
      // a spread would); one copy of the input, not a spread per id.
      const full: Record<string, unknown> = { ...input };
      if (this.userId !== undefined && !('userId' in full)) full.userId = this.userId;
      if (this.ctx.sessionId !== undefined && !('sessionId' in full)) full.sessionId = this.ctx.sessionId;
      if (this.ctx.conversationId !== undefined && !('conversationId' in full))
        full.conversationId = this.ctx.conversationId;
      full.span = this.span;
      // Events after the call's context is gone (request_completed) reuse the context invoke()
      // built, rather than SecurityEvents building one per event to put our span in the log record.
      if (this.callContext !== undefined)
        return emitInCallContext(
          this.runtime.events,
          category,
          full as unknown as EventInputFor<C>,
          this.callContext,
          this.security,
        );
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
    this.inputPhase = runInputPhase(this, options);
    return this.inputPhase;
  }

  /** The provider-independent view of the original request (computed once). */
  guardView(): GuardInput {
    this.view ??= this.adapter.guardInput(this.body);
    return this.view;
  }

  promptLength(): number {
    let n = 0;
    for (const m of this.promptMessages()) n += m.content.length;
    // Anthropic's system prompt is not a message; OpenAI's system messages are already counted.
    if (this.adapter.provider === 'anthropic') n += this.guardView().system.length;
    return n;
  }

  /**
   * The guard view's messages: the view's when built (guards, content capture), else the
   * plain reading of an OpenAI chat request of string messages (plain-messages.ts), so a call without guards does
   * not build the whole view for its prompt_length and new input. Read once.
   */
  private promptMessages(): readonly PromptMessage[] {
    if (this.prompt === undefined)
      this.prompt =
        this.view?.messages ?? plainMessagesOf(this.adapter, this.body) ?? this.guardView().messages;
    return this.prompt;
  }

  /** What this call added to its conversation (new-input.ts), from the original request. */
  newInput(): NewInput {
    return measureNewInput(this.promptMessages(), {
      raw: rawMessagesOf(this.body),
      // Embeddings have no turns, even inside a session.
      inConversation:
        this.adapter.operation === 'chat' &&
        (this.ctx.conversationId !== undefined || this.ctx.sessionId !== undefined),
      serverHistory: hasServerHistory(this.body),
    });
  }

  estimatedOutputTokens(): number {
    return (
      num(this.body.max_tokens) ??
      num(this.body.max_completion_tokens) ??
      num(this.body.max_output_tokens) ??
      0
    );
  }

  // --- after: the response, or the stream ---

  /** Attaches to the library's APIPromise (call-response.ts); returns what the library returned. */
  attach<T>(result: T): T {
    return attachResponse(this, result);
  }

  // --- the end, exactly once ---

  /** finish() ran: a result arriving later (call-response.ts) changes nothing. */
  get ended(): boolean {
    return this.finished;
  }

  complete(summary: ResponseSummary | undefined): void {
    this.finish(summary, undefined, 'allowed');
  }

  fail(err: unknown, summary?: ResponseSummary): void {
    this.finish(summary, errorClass(err), failureOutcome(err), blockSourceOf(err));
  }

  /** The stream stopped before the provider's last item: the app broke off or aborted it. */
  abandon(summary: ResponseSummary): void {
    this.finish(summary, 'aborted', 'allowed');
  }

  private finish(
    summary: ResponseSummary | undefined,
    errorType: string | undefined,
    outcome: CallOutcome,
    blockSource?: 'tool',
  ): void {
    if (this.finished) return;
    this.finished = true;
    try {
      const seconds = (performance.now() - this.started) / 1000;
      if (summary !== undefined) usageAsCounts(summary);
      const model = summary?.model ?? this.requestModel;
      const inTok = summary?.inputTokens;
      const outTok = summary?.outputTokens;
      recordCallMetrics(
        this.runtime.metrics,
        this.adapter,
        this.requestModel,
        inTok,
        outTok,
        seconds,
        errorType,
      );
      // Cancel only when the provider used nothing we know of (failed call); blocked output and
      // aborted streams did consume tokens.
      const consumed =
        errorType === undefined || outcome === 'blocked' || errorType === 'aborted' || inTok !== undefined;
      const outChars = summary !== undefined && outTok === undefined ? outputChars(summary) : undefined;
      settleLease(this, consumed ? { inTok, outTok, outChars, model } : undefined);
      this.emit('request_completed', {
        metadata: completedMetadata({
          model,
          inputTokens: inTok,
          outputTokens: outTok,
          seconds,
          costUsd: this.costUsd(model, inTok ?? 0, outTok ?? 0),
          promptLength: this.promptLength(),
          newInput: this.newInput(),
          outcome,
          ...(blockSource !== undefined ? { blockSource } : {}),
        }),
      });
      // An unguarded stream's texts past the telemetry's cap were not kept (kept-text.ts): counted.
      if (summary?.droppedChars !== undefined)
        this.runtime.metrics.recordTelemetryError('instrumentation', STREAM_TEXT_TRUNCATED);
      if (this.ownSpan)
        endCallSpan(
          this.span,
          this.runtime,
          outcome === 'blocked' ? undefined : summary?.text,
          summary,
          errorType,
        );
    } catch (err) {
      reportTelemetryError('instrumentation', err);
      if (this.ownSpan) safeEnd(this.span);
    }
  }

  costUsd(model: string, inTok: number, outTok: number): number {
    return (
      this.runtime.cost(model, inTok, outTok) ?? this.runtime.cost(this.requestModel, inTok, outTok) ?? 0
    );
  }
}
