export { LlmClientInstrumentation } from './instrumentation.ts';
export type { LlmClientInstrumentationConfig } from './instrumentation.ts';
export { instrumentClient } from './instrument-client.ts';
export { GuardrailBlockedError, OutputBlockedError, RateLimitedError } from './errors.ts';
export type {
  GuardContext,
  GuardDecision,
  GuardInput,
  GuardMessage,
  GuardOptions,
  GuardOutput,
  InputGuard,
  LimiterLike,
  LlmInstrumentationOptions,
  OperationName,
  OutputDecision,
  OutputGuard,
  ProviderName,
} from './types.ts';
