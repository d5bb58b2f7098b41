// @llmsec/detector: the OTLP-fed detection service. Public API: see README.md.
export {};
export type {
  AttrValue,
  Attributes,
  DecodeLimits,
  DecodedLogRecord,
  DecodedSpan,
  DecodedSpanEvent,
  IngestResult,
  OtlpIngest,
} from './otlp/types.ts';
