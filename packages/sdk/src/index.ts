export { SecurityEvents } from './security-events.ts';
export type { SecurityEventsOptions } from './security-events.ts';
export type {
  GuardrailBlockInput,
  OutputFilterBlockInput,
  RateLimitHitInput,
  AnomalousPatternInput,
  SystemPromptLeakageInput,
  PiiDetectedInput,
  ToolAbuseAttemptInput,
  AuthFailureInput,
  UnusualTokenUsageInput,
  RequestCompletedInput,
} from './category-methods.ts';
export {
  withSecurityContext,
  getSecurityContext,
  securityContextFromBaggage,
  contextWithSecurity,
} from './context.ts';
export type { SecurityContext } from './context.ts';
export { LlmsecMetrics, REQUEST_OUTCOMES, GUARDRAIL_OUTCOMES } from './metrics.ts';
export type {
  LlmsecMetricsOptions,
  RequestOutcome,
  GuardrailOutcome,
  TokenUsageInput,
  OperationDurationInput,
} from './metrics.ts';
export { JsonlEventWriter } from './jsonl-writer.ts';
export type { JsonlDestination, JsonlEventWriterOptions } from './jsonl-writer.ts';
export {
  SafeSpanProcessor,
  SafeLogRecordProcessor,
  SafeSpanExporter,
  SafeLogRecordExporter,
  SafeMetricExporter,
} from './safe-processors.ts';
export { setupLlmsec } from './setup.ts';
export type { SetupOptions, LlmsecSetup, DetectionTarget } from './setup.ts';
export type { OtlpProtocol } from './otlp-protocol.ts';
export {
  LlmClientInstrumentation,
  instrumentClient,
  GuardrailBlockedError,
  OutputBlockedError,
  RateLimitedError,
} from './instrumentation/index.ts';
export type {
  LlmClientInstrumentationConfig,
  LlmInstrumentationOptions,
  InputGuard,
  OutputGuard,
  GuardInput,
  GuardOutput,
  GuardContext,
  GuardDecision,
  OutputDecision,
  GuardMessage,
  GuardOptions,
  LimiterLike,
} from './instrumentation/index.ts';
export {
  piiGuard,
  systemPromptLeakageGuard,
  toolAllowlistGuard,
  patternGuard,
  keywordGuard,
  PROMPT_INJECTION_PATTERNS,
  defaultGuards,
} from './guards/index.ts';
export type {
  PiiGuardOptions,
  SystemPromptLeakageOptions,
  ToolAllowlistOptions,
  PatternGuardOptions,
} from './guards/index.ts';
