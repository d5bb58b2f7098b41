import { createHash } from 'node:crypto';
import {
  ANONYMOUS_USER,
  ATTR_SERVICE_NAME,
  costUsd,
  eventName,
  formatTimestamp,
  type Metadata,
  type PriceTable,
  type SecurityEvent,
} from '@llmsec/core';
import { measureNewInput } from '@llmsec/core/internal';
import { detached } from '../otlp/detach-strings.ts';
import * as G from './genai-attributes.ts';
import { promptMessagesOf } from './genai-messages.ts';
import type { SpanInput } from './inputs.ts';

export interface GenAiSpanOptions {
  /** Span attributes, then resource attributes, tried in order for the user. */
  userAttributes: readonly string[];
  /** Same for the session. */
  sessionAttributes: readonly string[];
  /** @default core's DEFAULT_PRICES */
  prices?: PriceTable;
}

export type GenAiSpanResult =
  | { kind: 'event'; event: SecurityEvent }
  /** Not a model request (no GenAI attributes, or an agent / tool span). */
  | { kind: 'not_genai' }
  /** Produced by llmsec's own instrumentation, which records request_completed itself. */
  | { kind: 'llmsec_sdk' };

const REQUEST_COMPLETED_EVENT = eventName('request_completed');
/** Prompt length measuring stops here: a length is all the rules need, and hostile spans can be huge. */
const MAX_PROMPT_ATTRIBUTES = 256;

/**
 * Turns a GenAI client span from another instrumentation (any language) into the
 * `request_completed` event llmsec's SDK would have recorded, so the token, cost,
 * identical-request and length rules cover apps that never installed @llmsec/sdk. The event id
 * is derived from (trace id, span id): an export the Collector retries counts once.
 */
export function genAiSpanToEvent(span: SpanInput, options: GenAiSpanOptions): GenAiSpanResult {
  const a = span.attributes;
  if (isLlmsecSdkSpan(span)) return { kind: 'llmsec_sdk' };
  if (!isModelRequest(a)) return { kind: 'not_genai' };

  const model = firstString(a, G.MODEL_ATTRIBUTES);
  const input = firstCount(a, G.INPUT_TOKEN_ATTRIBUTES);
  const output = firstCount(a, G.OUTPUT_TOKEN_ATTRIBUTES);
  const latency = span.endMs - span.startMs;
  const errorType = errorTypeOf(span);
  const metadata: Metadata = { blocked: false };
  if (model !== undefined) metadata.model = model;
  if (input !== undefined) metadata.prompt_tokens = input;
  if (output !== undefined) metadata.completion_tokens = output;
  if (Number.isFinite(latency) && latency >= 0) metadata.latency_ms = Math.round(latency);
  if (model !== undefined) {
    const cost = costUsd(model, input ?? 0, output ?? 0, options.prices);
    if (cost !== undefined) metadata.cost_usd = cost;
  }
  const promptLength = promptLengthOf(a);
  if (promptLength !== undefined) metadata.prompt_length = promptLength;
  if (errorType !== undefined) {
    // A cancel once the answer had begun is recorded as the SDK records a stream the app broke
    // off: a request sent and answered in part, which the rules that leave failed calls out
    // (identical_requests, high_block_rate) still count. Its error_type says what happened.
    if (!(isClientCancel(errorType) && answerBegan(a, output))) metadata.error = true;
    metadata.error_type = errorType;
  }
  const resource = span.resource;
  const event: SecurityEvent = {
    event_id: genAiEventId(span.traceId, span.spanId),
    timestamp: formatTimestamp(Number.isFinite(span.endMs) && span.endMs > 0 ? span.endMs : span.startMs),
    category: 'request_completed',
    severity: 'info',
    user_id: lookup(a, resource, options.userAttributes) ?? ANONYMOUS_USER,
    metadata,
  };
  const session = lookup(a, resource, options.sessionAttributes);
  if (session !== undefined) event.session_id = session;
  const conversation = a[G.CONVERSATION_ID];
  if (typeof conversation === 'string' && conversation !== '') event.conversation_id = conversation;
  if (/^[0-9a-f]{32}$/.test(span.traceId)) event.trace_id = span.traceId;
  if (/^[0-9a-f]{16}$/.test(span.spanId)) event.span_id = span.spanId;
  const service = resource[ATTR_SERVICE_NAME];
  if (typeof service === 'string' && service !== '') event.service = service;
  // Only with the prompt messages captured: without roles the history cannot be told apart
  // from the new input, and escalating_length must not judge the total.
  const messages = promptMessagesOf(a);
  if (messages !== undefined) {
    const inConversation = event.session_id !== undefined || event.conversation_id !== undefined;
    const newInput = measureNewInput(messages, { inConversation });
    metadata.new_input_length = newInput.length;
    if (newInput.turnIndex !== undefined) metadata.turn_index = newInput.turnIndex;
  }
  return { kind: 'event', event };
}

/** `EVT-` + 16 hex of SHA-256 over the span's ids: the same span always gives the same id. */
export function genAiEventId(traceId: string, spanId: string): string {
  return `EVT-${createHash('sha256').update(`genai:${traceId}:${spanId}`).digest('hex').slice(0, 16)}`;
}

/** True for spans of llmsec's own instrumentation, by scope name or its request_completed span event. */
export function isLlmsecSdkSpan(span: SpanInput): boolean {
  if (span.scope.startsWith(G.LLMSEC_SCOPE_PREFIX)) return true;
  for (const ev of span.events) if (ev.name === REQUEST_COMPLETED_EVENT) return true;
  return false;
}

function isModelRequest(a: Readonly<Record<string, unknown>>): boolean {
  const op = a[G.GEN_AI_OPERATION_NAME];
  if (typeof op === 'string') return G.REQUEST_OPERATIONS.has(op);
  const kind = a[G.OPENINFERENCE_SPAN_KIND];
  if (typeof kind === 'string') return G.OPENINFERENCE_REQUEST_KINDS.has(kind.toUpperCase());
  if (typeof a[G.TRACELOOP_REQUEST_TYPE] === 'string') return true;
  // No operation named: a span with a model and a GenAI system is a request (older semconv).
  return (
    (typeof a[G.GEN_AI_SYSTEM] === 'string' || typeof a[G.GEN_AI_PROVIDER_NAME] === 'string') &&
    firstString(a, G.MODEL_ATTRIBUTES) !== undefined
  );
}

function errorTypeOf(span: SpanInput): string | undefined {
  const t = span.attributes[G.ERROR_TYPE];
  // A copy, not a slice: a slice keeps the whole value (up to max_string_bytes) for as long as
  // the event waits in the ingest queue, past what its byte estimate counts (event-bytes.ts).
  if (typeof t === 'string' && t !== '') return t.length > 128 ? detached(t.slice(0, 128)) : t;
  // OTLP status code 2 = STATUS_CODE_ERROR.
  return span.status.code === 2 ? 'error' : undefined;
}

/** The error type names a cancel by the client (genai-attributes.ts CLIENT_CANCEL_TYPES). */
function isClientCancel(errorType: string): boolean {
  return G.CLIENT_CANCEL_TYPES.has(errorType.slice(errorType.lastIndexOf('.') + 1).toLowerCase());
}

/** The provider had started answering: output tokens counted, or a response id / model set. */
function answerBegan(a: Readonly<Record<string, unknown>>, outputTokens: number | undefined): boolean {
  return (
    (outputTokens !== undefined && outputTokens > 0) ||
    firstString(a, G.RESPONSE_STARTED_ATTRIBUTES) !== undefined
  );
}

function lookup(
  span: Readonly<Record<string, unknown>>,
  resource: Readonly<Record<string, unknown>>,
  keys: readonly string[],
): string | undefined {
  for (const k of keys) {
    const v = span[k];
    if (typeof v === 'string' && v !== '') return v;
  }
  for (const k of keys) {
    const v = resource[k];
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}

function firstString(a: Readonly<Record<string, unknown>>, keys: readonly string[]): string | undefined {
  for (const k of keys) {
    const v = a[k];
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}

/** Token counts arrive as numbers, bigints (int64) or numeric strings (OTLP/JSON int64). */
function firstCount(a: Readonly<Record<string, unknown>>, keys: readonly string[]): number | undefined {
  for (const k of keys) {
    const n = toCount(a[k]);
    if (n !== undefined) return n;
  }
  return undefined;
}

function toCount(v: unknown): number | undefined {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'bigint') n = Number(v);
  else if (typeof v === 'string' && /^\d{1,15}$/.test(v)) n = Number(v);
  else return undefined;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * Total characters of the prompt messages, else of the serialised input; undefined when not
 * captured. A message whose value is null was over the receiver's max_string_bytes (dropped,
 * the span kept): the messages' total is then unknown, not the others' sum, which would be the
 * system prompt's length on every request of a RAG app (identical_requests firing).
 */
function promptLengthOf(a: Readonly<Record<string, unknown>>): number | undefined {
  let total = 0;
  let seen = 0;
  let dropped = false;
  for (const k in a) {
    if (!G.PROMPT_CONTENT_PATTERN.test(k)) continue;
    const v = a[k];
    if (typeof v === 'string') total += v.length;
    else if (v === null) dropped = true;
    if (++seen >= MAX_PROMPT_ATTRIBUTES) break;
  }
  if (seen > 0 && total > 0 && !dropped) return total;
  for (const k of G.PROMPT_WHOLE_ATTRIBUTES) {
    const v = a[k];
    if (typeof v === 'string' && v.length > 0) return v.length;
  }
  return undefined;
}
