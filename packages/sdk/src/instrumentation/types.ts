import type { Span, TracerProvider, MeterProvider } from '@opentelemetry/api';
import type {
  Category,
  EventInputFor,
  PriceTable,
  SecurityEvent,
  SecurityEventEmitter,
  Severity,
} from '@llmsec/core';

/** Public types of the LLM client instrumentation and its guard hooks. */

export type ProviderName = 'openai' | 'anthropic';
/** GenAI semconv `gen_ai.operation.name` values we emit (`text_completion`: openai's legacy `completions.create`). */
export type OperationName = 'chat' | 'text_completion' | 'embeddings';

/**
 * A text-only view of one message: what guards read and may rewrite. `role` is the provider's
 * (`system`, `developer`, `user`, `assistant`, ...); a tool's output has a role of its own:
 * `tool` (OpenAI chat `tool` messages, and Anthropic `tool_result` / `search_result` blocks,
 * which the SDK lifts out of their `user` message into `tool` messages, wherever they sit among
 * the user's own text blocks, and the results of Anthropic's server tools, lifted out of the
 * assistant's message the same way), `document` (Anthropic plain-text `document` blocks, lifted out
 * the same way: attached or retrieved text is third-party too), `function` (OpenAI chat,
 * legacy) or the Responses item type (`function_call_output`, `custom_tool_call_output`,
 * `mcp_call`, `file_search_call`, ...; a `reasoning` item reads as `assistant`). Guards that only judge what the
 * end user typed can skip those; a block in one is recorded as `input_source: "tool"`.
 */
export interface GuardMessage {
  role: string;
  /**
   * The message's text as the model reads it: text parts side by side joined with nothing
   * (so text cut across two parts is whole here), other blocks (tool results, documents, text
   * across an image) with '\n'. A `modify` sets it; the SDK cuts it back into the parts.
   */
  content: string;
  /**
   * Where in `content` two text parts read back to back meet (offsets, increasing); absent when
   * none. The provider receives each part's text, so a guard that must find what one part
   * holds (personal data whole in a part that the next part runs on from: 'jane@example.com'
   * + '42') reads the pieces between the cuts too, as piiGuard does. Set by the SDK on the
   * messages it reads; a guard's modify need not set it (read as absent when not increasing
   * offsets inside `content`).
   */
  cuts?: readonly number[];
}

/** What an input guard sees: a normalised, provider-independent view of the request. */
export interface GuardInput {
  provider: ProviderName;
  operation: OperationName;
  model: string;
  /** The system prompt / instructions (system messages joined), '' when none. */
  system: string;
  /** Every message with its text, in request order (system messages included for OpenAI chat). */
  messages: GuardMessage[];
  /**
   * Names of the tools the request declares (a Responses namespace's tools by their names; a
   * tool with no name, as Responses `local_shell` or `mcp`, by its type).
   */
  tools: string[];
  /** The raw request body; read-only (return a `modify` decision to change the request). */
  body: Readonly<Record<string, unknown>>;
}

/** The request as guards see it, with the response view for output guards. */
export interface GuardContext {
  input: GuardInput;
  userId?: string;
  sessionId?: string;
  conversationId?: string;
  /** The call's span (ours, or the GenAI span another instrumentation made). */
  span?: Span;
  /** Records a security event on the call's span and with the call's ids. Never throws. */
  emit<C extends Category>(category: C, input: EventInputFor<C>): SecurityEvent | undefined;
}

export type GuardDecision =
  | { action: 'allow' }
  | {
      action: 'block';
      reason: string;
      severity?: Severity;
      /**
       * Index in GuardInput.messages of the message that caused the block, when the guard
       * knows it (the built-in pattern and PII guards say). When it is a tool's output (see
       * GuardMessage), the block is recorded as the tool's (`input_source: "tool"`, the blocked
       * payload is that message) and not as the user's doing. Unnamed (or not an index of
       * GuardInput.messages): the user's, unless the request has no text but the operator's
       * (system, developer), the model's (assistant) and tools' output, when it is the newest
       * tool output's. Name it: a guard that knows where it matched attributes exactly.
       */
      message?: number;
    }
  /** Replace message texts (same length and order as GuardInput.messages) and/or the system prompt. */
  | { action: 'modify'; messages?: GuardMessage[]; system?: string; reason?: string };

export type OutputDecision =
  /**
   * `holdChars` (streams only): how many characters at the end of the text so far must not
   * reach the reader yet (a possible start of something the guard will block). Items are
   * held back until a later check releases them or the stream ends and the response passes.
   */
  | { action: 'allow'; holdChars?: number }
  | { action: 'block'; reason: string; severity?: Severity }
  /** Replace the response text (non-streaming responses only; ignored for chunks). */
  | { action: 'modify'; text: string; reason?: string };

/** The response as output guards see it. */
export interface GuardOutput {
  text: string;
  /** Names of the tools the model asked to call. */
  toolCalls: string[];
}

export interface InputGuard {
  readonly name: string;
  /** Guardrail layer, recorded as `guardrail_layer` and as the duration metric's `layer`. */
  readonly layer: string;
  /** Synchronous guards are run without a promise (the hot path); async ones are awaited. */
  check(input: GuardInput, ctx: GuardContext): GuardDecision | Promise<GuardDecision>;
}

export interface OutputGuard {
  readonly name: string;
  readonly layer: string;
  checkResponse(output: GuardOutput, ctx: GuardContext): OutputDecision | Promise<OutputDecision>;
  /**
   * Streaming: called for every chunk that adds text, with everything so far. Synchronous on
   * purpose (it runs between chunks); `block` cuts the stream, `allow` with `holdChars` holds
   * the end of the text back from the reader, `modify` is not supported here. Keep state per
   * `ctx` and read `delta`: slicing or matching `accumulated` on every chunk is quadratic.
   */
  checkChunk?(accumulated: string, delta: string, ctx: GuardContext): OutputDecision;
}

/** Structurally compatible with @llmsec/ratelimit's limiter (the SDK does not depend on it). */
export interface LimiterLike {
  acquire(req: {
    subject: string;
    secondarySubject?: string;
    estimatedTokens: number;
    estimatedCostMicroUsd?: number;
  }): Promise<{
    allowed: boolean;
    reason?: string;
    retryAfterMs: number;
    refusedBy?: { current: number; limit: number; dimension: string };
    lease?: unknown;
    /** The `rate_limit_hit` the limiter recorded for a refusal: then the instrumentation records none. */
    event?: SecurityEvent;
  }>;
  settle(lease: never, usage: { tokens: number; costMicroUsd?: number }): Promise<unknown> | unknown;
  cancel(lease: never): Promise<unknown> | unknown;
  /**
   * The request's tokens to reserve, from its body (`RateLimiter.estimateRequest`: the HTTP
   * middleware's estimate, tool definitions and tool-call arguments counted). Without it, or
   * when it throws or answers no numbers: prompt characters / 4 + the requested max output.
   */
  estimateRequest?(body: unknown): { inputTokens: number; outputTokens: number };
}

export interface GuardOptions {
  input?: InputGuard[];
  output?: OutputGuard[];
}

/** Options shared by `instrumentClient` and the auto-instrumentation. */
export interface LlmInstrumentationOptions {
  /** Where security events go. @default the running setupLlmsec's SecurityEvents, else a SecurityEvents on the global providers */
  events?: SecurityEventEmitter;
  /** Guards run around every instrumented call. @default none */
  guards?: GuardOptions;
  /** Rate limiter: acquire before, settle after, cancel on error. @default none */
  limiter?: LimiterLike;
  /** The user (and secondary subject) of a call. @default the SDK security context's user id */
  resolveUser?: () => { userId?: string; secondarySubject?: string } | undefined;
  /** USD per million tokens by model. @default core's DEFAULT_PRICES */
  prices?: PriceTable;
  /**
   * Record message content on spans (`gen_ai.input.messages`, `gen_ai.output.messages`),
   * redacted and truncated. @default false, or `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`
   */
  captureContent?: boolean;
  /**
   * With `captureContent`, also record the system prompt (OpenAI `system` / `developer`
   * messages, Anthropic `system`, Responses `instructions`). Off, it is never exported: it is
   * the operator's secret and may carry the leakage guard's canary. @default false
   */
  captureSystemPrompt?: boolean;
  /** Characters kept per captured message. @default 500 */
  maxContentChars?: number;
  /**
   * The Anthropic SDK (1.x) creates its own call span when a tracer provider is registered.
   * `suppress` turns that off on instrumented clients so one call makes one GenAI span.
   * @default 'suppress'
   */
  anthropicBuiltInSpans?: 'suppress' | 'keep';
  tracerProvider?: TracerProvider;
  meterProvider?: MeterProvider;
}
