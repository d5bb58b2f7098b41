/**
 * Every attribute name llmsec writes, in one module, so they can be mapped when the GenAI
 * semantic conventions settle on security names. Semantic-convention names are copied here
 * (the npm package marks gen_ai.* deprecated and exports them only under /incubating).
 */

// --- OpenTelemetry semantic conventions ---
export const ATTR_USER_ID = 'user.id';
export const ATTR_SESSION_ID = 'session.id';
export const ATTR_CLIENT_ADDRESS = 'client.address';
export const ATTR_SERVICE_NAME = 'service.name';
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_SERVER_PORT = 'server.port';

export const ATTR_GEN_AI_CONVERSATION_ID = 'gen_ai.conversation.id';
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
export const ATTR_GEN_AI_REQUEST_MAX_TOKENS = 'gen_ai.request.max_tokens';
export const ATTR_GEN_AI_REQUEST_TEMPERATURE = 'gen_ai.request.temperature';
export const ATTR_GEN_AI_REQUEST_TOP_P = 'gen_ai.request.top_p';
export const ATTR_GEN_AI_REQUEST_STREAM = 'gen_ai.request.stream';
export const ATTR_GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
export const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
export const ATTR_GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons';
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
export const ATTR_GEN_AI_TOKEN_TYPE = 'gen_ai.token.type';
export const ATTR_GEN_AI_INPUT_MESSAGES = 'gen_ai.input.messages';
export const ATTR_GEN_AI_OUTPUT_MESSAGES = 'gen_ai.output.messages';
export const ATTR_GEN_AI_SYSTEM_INSTRUCTIONS = 'gen_ai.system_instructions';

// --- llmsec's own names ---
export const EVENT_NAME_PREFIX = 'llmsec.';
/** Span event / log record name of a security event: `llmsec.<category>`. */
export function eventName(category: string): string {
  return EVENT_NAME_PREFIX + category;
}
/** Log record / span event name of an alert. */
export const ALERT_EVENT_NAME = 'llmsec.alert';

export const ATTR_EVENT_ID = 'llmsec.event.id';
export const ATTR_EVENT_CATEGORY = 'llmsec.event.category';
export const ATTR_EVENT_SEVERITY = 'llmsec.event.severity';
/** The event's own time (RFC 3339), kept so decoding never depends on the carrier's clock. */
export const ATTR_EVENT_TIMESTAMP = 'llmsec.event.timestamp';
export const ATTR_EVENT_DESCRIPTION = 'llmsec.event.description';
export const ATTR_EVENT_CORRELATED = 'llmsec.event.correlated_events';
export const ATTR_SOURCE_IP = ATTR_CLIENT_ADDRESS;
export const ATTR_REQUEST_PREVIEW = 'llmsec.request.preview';
export const ATTR_RESPONSE_PREVIEW = 'llmsec.response.preview';
/** Category metadata travels as `llmsec.metadata.<key>`. */
export const ATTR_METADATA_PREFIX = 'llmsec.metadata.';

export const ATTR_ALERT_ID = 'llmsec.alert.id';
export const ATTR_ALERT_RULE = 'llmsec.alert.rule';
export const ATTR_ALERT_SEVERITY = 'llmsec.alert.severity';
export const ATTR_ALERT_STATUS = 'llmsec.alert.status';
export const ATTR_ALERT_USER_IDS = 'llmsec.alert.user_ids';
export const ATTR_ALERT_EVIDENCE = 'llmsec.alert.evidence';
export const ATTR_ALERT_TRACE_IDS = 'llmsec.alert.trace_ids';
export const ATTR_ALERT_STARTS_AT = 'llmsec.alert.starts_at';
export const ATTR_ALERT_ENDS_AT = 'llmsec.alert.ends_at';
export const ATTR_ALERT_LABELS_PREFIX = 'llmsec.alert.label.';
/** The alert's `across` values (a cross_group rule across another field), one string[] per field. */
export const ATTR_ALERT_ACROSS_PREFIX = 'llmsec.alert.across.';

/** Baggage keys carrying the security context across process boundaries. */
export const BAGGAGE_USER_ID = 'user.id';
export const BAGGAGE_SESSION_ID = 'session.id';
export const BAGGAGE_CONVERSATION_ID = 'gen_ai.conversation.id';
