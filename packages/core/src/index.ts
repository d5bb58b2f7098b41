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
export * from './attributes.ts';
export * from './metric-names.ts';
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
export { eventToAttributes, attributesToEvent } from './otel-codec.ts';
export type { CarrierIds } from './otel-codec.ts';
export type { EventInput, EventInputFor, SecurityEventEmitter } from './emitter.ts';
export { normalisePayload, payloadFingerprint } from './fingerprint.ts';
export * from './prices.ts';
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
export { redact, detectSensitive } from './redaction/redact.ts';
export type { RedactOptions, RedactResult } from './redaction/redact.ts';
export { truncatePreview, redactPreview } from './redaction/preview.ts';
export type { RedactedPreview } from './redaction/preview.ts';
export { luhnValid, ibanValid } from './redaction/checksums.ts';
export { errorType } from './errors/error-type.ts';
export { ErrorFunnel } from './errors/error-funnel.ts';
export type { ErrorFunnelOptions, TelemetryErrorCounter } from './errors/error-funnel.ts';
export { UNTRACED_CONTEXT, untraced } from './untraced.ts';
