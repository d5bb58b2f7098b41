// @llmsec/core/internal: plumbing the llmsec packages share and applications do not call — the
// one error funnel (telemetry never throws into the app; failures are counted by error type and
// logged once per episode), the low-cardinality error-type label, the context that keeps
// llmsec's own I/O (Redis, Alertmanager, OTLP) from being traced, and the new-input measure the
// SDK and the detector share (new_input_length / turn_index). Exported for the other
// llmsec packages and for anyone writing an llmsec extension; it follows the packages' version.
export { errorType } from './errors/error-type.ts';
export { ErrorFunnel } from './errors/error-funnel.ts';
export type { ErrorFunnelOptions, TelemetryErrorCounter } from './errors/error-funnel.ts';
export { UNTRACED_CONTEXT, untraced } from './untraced.ts';
export { measureNewInput, rawContentLength } from './new-input.ts';
export type { NewInput, NewInputOptions, PromptMessage } from './new-input.ts';
export { MAX_USER_ID_CHARS, userSubject } from './user-subject.ts';
export { cutId } from './cut-id.ts';
export { EVENT_FIELD_CAPS, capEventFields, metadataMayBeOverCaps } from './event-caps.ts';
export { w3cId } from './w3c-id.ts';
export { readFileCapped } from './read-capped.ts';
export { urlWithoutPassword } from './url-without-password.ts';
export { logRecordTime } from './log-record-time.ts';
export { ACCEPTED_ENCODINGS, bodyEncodingOf, decompressBody, zstdWindowLog } from './body-encoding.ts';
export type { BodyEncoding, InflateResult } from './body-encoding.ts';
