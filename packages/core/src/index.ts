export {
  CATEGORIES,
  SEVERITIES,
  SEVERITY_RANK,
  DEFAULT_SEVERITY,
  ALERT_SEVERITIES,
  ANONYMOUS_USER,
  PREVIEW_MAX_CHARS,
  isCategory,
  isSeverity,
  isBlockCategory,
  VICTIM_CATEGORIES,
  readsOnlyVictimCategories,
} from './model.ts';
export type {
  Category,
  CategoryName,
  CategoryMetadata,
  Severity,
  Metadata,
  MetadataValue,
  SecurityEvent,
  Alert,
  AlertSeverity,
  AlertStatus,
} from './model.ts';
export {
  ATTR_USER_ID,
  ATTR_SESSION_ID,
  ATTR_CLIENT_ADDRESS,
  ATTR_SERVICE_NAME,
  ATTR_ERROR_TYPE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_TEMPERATURE,
  ATTR_GEN_AI_REQUEST_TOP_P,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_GEN_AI_TOKEN_TYPE,
  ATTR_GEN_AI_INPUT_MESSAGES,
  ATTR_GEN_AI_OUTPUT_MESSAGES,
  ATTR_GEN_AI_SYSTEM_INSTRUCTIONS,
  EVENT_NAME_PREFIX,
  eventName,
  ALERT_EVENT_NAME,
  ATTR_EVENT_ID,
  ATTR_EVENT_CATEGORY,
  ATTR_EVENT_SEVERITY,
  ATTR_EVENT_TIMESTAMP,
  ATTR_EVENT_DESCRIPTION,
  ATTR_EVENT_CORRELATED,
  ATTR_SOURCE_IP,
  ATTR_REQUEST_PREVIEW,
  ATTR_RESPONSE_PREVIEW,
  ATTR_METADATA_PREFIX,
  ATTR_ALERT_ID,
  ATTR_ALERT_RULE,
  ATTR_ALERT_SEVERITY,
  ATTR_ALERT_STATUS,
  ATTR_ALERT_USER_IDS,
  ATTR_ALERT_EVIDENCE,
  ATTR_ALERT_TRACE_IDS,
  ATTR_ALERT_STARTS_AT,
  ATTR_ALERT_ENDS_AT,
  ATTR_ALERT_LABELS_PREFIX,
  ATTR_ALERT_ACROSS_PREFIX,
  BAGGAGE_USER_ID,
  BAGGAGE_SESSION_ID,
  BAGGAGE_CONVERSATION_ID,
} from './attributes.ts';
export {
  METRIC_EVENTS,
  METRIC_REQUESTS,
  METRIC_COST,
  METRIC_GUARDRAIL_DURATION,
  METRIC_GEN_AI_TOKEN_USAGE,
  METRIC_GEN_AI_OPERATION_DURATION,
  METRIC_TELEMETRY_ERRORS,
  METRIC_ALERTS,
  METRIC_DETECT_DROPPED,
  METRIC_DETECT_INCIDENTS_REFUSED,
  METRIC_ALERT_NOTIFICATIONS,
  METRIC_RATELIMIT_DECISIONS,
  METRIC_RATELIMIT_STORE_ERRORS,
  METRIC_RATELIMIT_ENFORCED_DROPPED,
  METRIC_ENFORCEMENT_TRANSITIONS,
  GEN_AI_DURATION_BUCKETS,
  GEN_AI_TOKEN_BUCKETS,
  GUARDRAIL_DURATION_BUCKETS,
} from './metric-names.ts';
export { systemClock, ManualClock } from './clock.ts';
export type { Clock } from './clock.ts';
export { createIdGenerator, defaultIdGenerator, seededRandom } from './ids.ts';
export type { IdGenerator, RandomSource } from './ids.ts';
export { parseTimestamp, formatTimestamp } from './timestamp.ts';
export {
  EventDecodeError,
  decodeEvent,
  decodeEventLine,
  encodeEvent,
  encodeAlert,
  readEventsJsonl,
  EVENT_FIELDS,
} from './jsonl.ts';
export type { DecodedEvent, LineError } from './jsonl.ts';
export { DEFAULT_MAX_LINE_BYTES, LineSplitter, forEachLine } from './line-splitter.ts';
export type { LineReaderOptions } from './line-splitter.ts';
export { eventToAttributes, attributesToEvent } from './otel-codec.ts';
export type { CarrierIds } from './otel-codec.ts';
export type { EventInput, EventInputFor, SecurityEventEmitter } from './emitter.ts';
export {
  createFingerprintKey,
  MIN_FINGERPRINT_KEY_BYTES,
  normalisePayload,
  payloadFingerprint,
} from './fingerprint.ts';
export type { FingerprintKey } from './fingerprint.ts';
export { DEFAULT_PRICES, priceFor, knownModel, costUsd, costMicroUsd } from './prices.ts';
export type { ModelPrice, PriceTable } from './prices.ts';
export {
  REDACTION_TYPES,
  PII_TYPES,
  SECRET_TYPES,
  isRedactionType,
  isSecretType,
  isPiiType,
  redactionPlaceholder,
} from './redaction/types.ts';
export type { RedactionType, PiiType, SecretType } from './redaction/types.ts';
export { redact, detectSensitive, findSensitive } from './redaction/redact.ts';
export type { RedactOptions, RedactResult, SensitiveSpan } from './redaction/redact.ts';
export { truncatePreview, redactPreview } from './redaction/preview.ts';
export type { RedactedPreview } from './redaction/preview.ts';
export { luhnValid, ibanValid } from './redaction/checksums.ts';
