import { SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
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
} from '@llmsec/core';
import { num, type Body, type ProviderAdapter, type ResponseSummary } from './adapter.ts';
import { captureOutput } from './content.ts';
import type { LlmRuntime } from './runtime.ts';

/**
 * The span lifecycle of one call: reuse another instrumentation's GenAI span or start ours
 * with the request's GenAI attributes; at the end, the response attributes, the status and
 * `span.end()`. Only the call's own span is ended here (a reused span belongs to its maker).
 */

export interface CallSpan {
  span: Span;
  /** False when another instrumentation's GenAI span is reused: we add events, it owns the rest. */
  ownSpan: boolean;
}

export function startCallSpan(
  runtime: LlmRuntime,
  adapter: ProviderAdapter,
  body: Body,
  requestModel: string,
  client: unknown,
  conversationId: string | undefined,
): CallSpan {
  const existing = activeGenAiSpan();
  if (existing !== undefined) return { span: existing, ownSpan: false };
  const span = runtime.tracer.startSpan(`${adapter.operation} ${requestModel}`.trim(), {
    kind: SpanKind.CLIENT,
    attributes: startAttributes(adapter, body, requestModel, client, conversationId),
  });
  return { span, ownSpan: true };
}

/**
 * The response attributes, captured output (opt-in; `outputText` undefined: nothing to
 * capture, as for a response an output guard blocked), the status, then `end()`.
 */
export function endCallSpan(
  span: Span,
  runtime: LlmRuntime,
  outputText: string | undefined,
  summary: ResponseSummary | undefined,
  errorType: string | undefined,
): void {
  const attrs: Attributes = {};
  if (summary?.id !== undefined) attrs[ATTR_GEN_AI_RESPONSE_ID] = summary.id;
  if (summary?.model !== undefined) attrs[ATTR_GEN_AI_RESPONSE_MODEL] = summary.model;
  if (summary !== undefined && summary.finishReasons.length > 0)
    attrs[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = summary.finishReasons;
  if (summary?.inputTokens !== undefined) attrs[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = summary.inputTokens;
  if (summary?.outputTokens !== undefined) attrs[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = summary.outputTokens;
  if (errorType !== undefined) attrs[ATTR_ERROR_TYPE] = errorType;
  span.setAttributes(attrs);
  if (runtime.captureContent && outputText !== undefined)
    captureOutput(span, outputText, runtime.maxContentChars, summary?.droppedChars !== undefined);
  // The status message is the error class, never the error text (it may quote the prompt).
  if (errorType !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
  span.end();
}

export function safeEnd(span: Span): void {
  try {
    span.end();
  } catch {
    // Ending is best effort here: we are already reporting a failure.
  }
}

function startAttributes(
  adapter: ProviderAdapter,
  b: Body,
  requestModel: string,
  client: unknown,
  conversationId: string | undefined,
): Attributes {
  const attrs: Attributes = {
    [ATTR_GEN_AI_OPERATION_NAME]: adapter.operation,
    [ATTR_GEN_AI_PROVIDER_NAME]: adapter.provider,
    [ATTR_GEN_AI_REQUEST_MODEL]: requestModel,
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

/** Another GenAI instrumentation's span for this call (it wraps outside us), if one is active. */
function activeGenAiSpan(): Span | undefined {
  const span = trace.getActiveSpan();
  if (span === undefined || !span.isRecording()) return undefined;
  const a = span as unknown as { attributes?: Attributes; kind?: SpanKind; ended?: boolean };
  if (a.ended === true || a.attributes === undefined) return undefined;
  const attrs = a.attributes;
  const genAi =
    attrs[ATTR_GEN_AI_OPERATION_NAME] !== undefined ||
    attrs['gen_ai.system'] !== undefined ||
    attrs['openinference.span.kind'] === 'LLM' ||
    attrs['openinference.span.kind'] === 'EMBEDDING';
  return genAi &&
    (a.kind === undefined || a.kind === SpanKind.CLIENT || attrs['openinference.span.kind'] !== undefined)
    ? span
    : undefined;
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
      out = {
        address: u.hostname,
        port: u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 80,
      };
    }
  } catch {
    out = null;
  }
  serverCache.set(client, out);
  return out ?? undefined;
}
