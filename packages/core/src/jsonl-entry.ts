// @llmsec/core/jsonl: the JSONL event codec and line splitter alone, for readers of event logs
// (`llmsec replay`'s reader thread, its argument parsing). The main entry also loads
// @opentelemetry/api (51 modules: the emitter, the OTel codec, the error funnel), which a
// reader never calls; a thread that starts with this subpath reads its first line that much
// sooner. Same objects as the main entry's (one module each), so `instanceof` and identity hold
// across the two. Nothing here may import @opentelemetry/api (test: jsonl-entry.test.ts).
export { isSeverity } from './model.ts';
export type { Metadata, MetadataValue, SecurityEvent, Severity } from './model.ts';
export { parseTimestamp } from './timestamp.ts';
export { EventDecodeError, decodeEvent, decodeEventLine, EVENT_FIELDS } from './jsonl.ts';
export { keepIntegerDigits } from './exact-integers.ts';
export type { DecodedEvent, LineError } from './jsonl.ts';
export { DEFAULT_MAX_LINE_BYTES, LineSplitter, forEachLine } from './line-splitter.ts';
export type { LineReaderOptions } from './line-splitter.ts';
export { payloadFingerprint } from './fingerprint.ts';
// The readers' field caps (docs/formats.md 'Field caps'), also in @llmsec/core/internal: plumbing
// the llmsec readers share, following the packages' version.
export { EVENT_FIELD_CAPS, capEventFields, metadataMayBeOverCaps } from './event-caps.ts';
export { w3cId } from './w3c-id.ts';
