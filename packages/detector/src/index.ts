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
  ReceiveObserver,
  ReceiveOutcome,
  ReceiveReport,
} from './otlp/types.ts';
export { createOtlpHttpHandler } from './otlp/http-handler.ts';
export type { OtlpHttpHandler, OtlpHttpHandlerOptions } from './otlp/http-handler.ts';
export { startOtlpGrpcServer } from './otlp/grpc-server.ts';
export type { OtlpGrpcServer, OtlpGrpcServerOptions } from './otlp/grpc-server.ts';
export { decodeLogs, decodeTraces } from './otlp/decode.ts';
export { OtlpDecodeError, resolveDecodeLimits, DEFAULT_DECODE_LIMITS } from './otlp/limits.ts';
export type { ResolvedDecodeLimits } from './otlp/limits.ts';
export type { WireFormat } from './otlp/responses.ts';
export { logRecordToEvent, spanEventToEvent, isLlmsecEventName } from './otlp/to-event.ts';
export { startDetector } from './service/detector.ts';
export type { DetectorOptions, RunningDetector } from './service/detector.ts';
export { createJsonLogger } from './service/log.ts';
export { logDiagnostics } from './service/diag-log.ts';
export type { Logger, LogLevel, JsonLoggerOptions } from './service/log.ts';
export { loadConfig, ConfigError } from './service/config.ts';
export type { ConfigFlags } from './service/config.ts';
export type {
  ParsedConfig as DetectorConfig,
  ConfigFile as DetectorConfigFile,
} from './service/config-schema.ts';
export { genAiSpanToEvent, genAiEventId } from './service/genai-span.ts';
export type { GenAiSpanOptions, GenAiSpanResult } from './service/genai-span.ts';
export { DEFAULT_USER_ATTRIBUTES, DEFAULT_SESSION_ATTRIBUTES } from './service/genai-attributes.ts';
export { FleetEnforcement } from './service/fleet-enforcement.ts';
export type {
  FleetEnforcementOptions,
  EnforcementAction,
  FleetThresholds,
} from './service/fleet-enforcement.ts';
