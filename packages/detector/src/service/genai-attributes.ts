/**
 * Attribute names other instrumentations write on GenAI client spans, in one module so the
 * mapping to llmsec's `request_completed` can be read (and extended) in one place. Names are
 * facts of each library's conventions:
 * - OpenTelemetry GenAI semantic conventions (`gen_ai.*`; the pre-1.27 `prompt_tokens` /
 *   `completion_tokens` names still sent by older contrib and OpenLLMetry releases),
 * - OpenInference (Arize: `openinference.span.kind`, `llm.*`, `input.value`),
 * - OpenLLMetry / Traceloop (`llm.request.type`, `llm.usage.*`, `gen_ai.prompt.N.content`,
 *   `traceloop.association.properties.*`).
 */

export const GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
/** Deprecated in favour of gen_ai.provider.name; still sent by most instrumentations. */
export const GEN_AI_SYSTEM = 'gen_ai.system';
export const GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
export const OPENINFERENCE_SPAN_KIND = 'openinference.span.kind';
export const TRACELOOP_REQUEST_TYPE = 'llm.request.type';

/** GenAI operations that are one request to a model (agent and tool spans are not). */
export const REQUEST_OPERATIONS: ReadonlySet<string> = new Set([
  'chat',
  'text_completion',
  'generate_content',
  'embeddings',
  'completion',
]);
/** OpenInference span kinds that are one request to a model. */
export const OPENINFERENCE_REQUEST_KINDS: ReadonlySet<string> = new Set(['LLM', 'EMBEDDING']);

/** First present wins. Response model first: it names the model that actually answered. */
export const MODEL_ATTRIBUTES = [
  'gen_ai.response.model',
  'gen_ai.request.model',
  'llm.model_name',
  'llm.response.model',
] as const;

export const INPUT_TOKEN_ATTRIBUTES = [
  'gen_ai.usage.input_tokens',
  'gen_ai.usage.prompt_tokens',
  'llm.token_count.prompt',
  'llm.usage.prompt_tokens',
] as const;

export const OUTPUT_TOKEN_ATTRIBUTES = [
  'gen_ai.usage.output_tokens',
  'gen_ai.usage.completion_tokens',
  'llm.token_count.completion',
  'llm.usage.completion_tokens',
] as const;

export const ERROR_TYPE = 'error.type';

/**
 * `error.type` names (the part after the last `.`, lower-cased) of a cancel by the client, not a
 * failure: JS clients' APIUserAbortError / DOM AbortError, Python's asyncio CancelledError, .NET's
 * OperationCanceledException / TaskCanceledException, Java's CancellationException. Exact names,
 * not a substring: ConnectionAbortedError (the peer cut the connection) is a failure.
 */
export const CLIENT_CANCEL_TYPES: ReadonlySet<string> = new Set([
  'apiuseraborterror',
  'aborterror',
  'cancellederror',
  'cancelederror',
  'operationcanceledexception',
  'taskcanceledexception',
  'cancellationexception',
]);

/** Set from the provider's first answer (a stream's first chunk): the request was being answered. */
export const RESPONSE_STARTED_ATTRIBUTES = ['gen_ai.response.id', 'gen_ai.response.model'] as const;

/**
 * Default user attributes, span first then resource: semantic conventions (`user.id`,
 * `enduser.id`, the latter deprecated but common), OpenInference's `setUser` (`user.id`),
 * Traceloop association properties.
 */
export const DEFAULT_USER_ATTRIBUTES = [
  'user.id',
  'enduser.id',
  'traceloop.association.properties.user_id',
  'traceloop.association.properties.userId',
] as const;

export const DEFAULT_SESSION_ATTRIBUTES = [
  'session.id',
  'gen_ai.conversation.id',
  'traceloop.association.properties.session_id',
  'traceloop.association.properties.sessionId',
] as const;

export const CONVERSATION_ID = 'gen_ai.conversation.id';

/**
 * Where prompt text may be, to measure its length (never to keep it): message contents
 * (OpenInference `llm.input_messages.<i>.message.content`, Traceloop `gen_ai.prompt.<i>.content`),
 * else the whole serialised input (OpenInference `input.value`, semconv `gen_ai.input.messages`).
 */
export const PROMPT_CONTENT_PATTERN =
  /^(?:llm\.input_messages\.\d+\.message\.content|gen_ai\.prompt\.\d+\.content)$/;
export const PROMPT_WHOLE_ATTRIBUTES = ['gen_ai.input.messages', 'input.value'] as const;

/**
 * Prompt messages with their roles (genai-messages.ts), to measure the new input of a call:
 * OpenInference `llm.input_messages.<i>.message.role|content`, Traceloop
 * `gen_ai.prompt.<i>.role|content`, semconv `gen_ai.input.messages` (JSON).
 */
export const OPENINFERENCE_INPUT_MESSAGES_PREFIX = 'llm.input_messages.';
export const TRACELOOP_PROMPT_PREFIX = 'gen_ai.prompt.';
export const GEN_AI_INPUT_MESSAGES = 'gen_ai.input.messages';

/** llmsec's own instrumentation emits request_completed itself: its spans must not count twice. */
export const LLMSEC_SCOPE_PREFIX = '@llmsec/';
