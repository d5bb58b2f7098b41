export { DetectionEngine } from './engine.ts';
export type { DetectionEngineOptions, EngineStats } from './engine.ts';
export { RedisDetectionState, StateTimeoutError } from './state/redis-state.ts';
export type { RedisDetectionStateOptions } from './state/redis-state.ts';
export type { SharedStats } from './state/shared-engine.ts';
export { DetectionSpanProcessor } from './span-processor.ts';
export type { DetectionSpanProcessorOptions, SpanLike } from './span-processor.ts';
export { DetectionLogRecordProcessor } from './log-processor.ts';
export type { DetectionLogRecordProcessorOptions, LogRecordLike } from './log-processor.ts';
export { defaultRules, DEFAULT_RULES_PATH, DEFAULT_RULE_IDS } from './default-rules.ts';
export { parseRules, loadRulesFile, RuleFileError } from './rule-loader.ts';
export { categoryTypoWarnings } from './category-typo.ts';
export { parseDuration, formatDuration } from './duration.ts';
export type {
  RuleDefinition,
  CodeRule,
  AnyRule,
  Condition,
  ConditionDefinition,
  ConditionKind,
  EvidenceSink,
  MatchDefinition,
  WherePredicate,
  CountCondition,
  DistinctCondition,
  RatioCondition,
  MonotonicCondition,
  IdenticalCondition,
  BaselineCondition,
  SingleCondition,
  CrossGroupCondition,
} from './types.ts';
export type { AlertSink, FleetAlertRef, FleetCheckAnswer, FleetIncidentCheck } from './sinks/types.ts';
export { AlertmanagerSink } from './sinks/alertmanager.ts';
export type { AlertmanagerSinkOptions } from './sinks/alertmanager.ts';
export { WebhookSink } from './sinks/webhook.ts';
export type { WebhookSinkOptions } from './sinks/webhook.ts';
export { ConsoleSink } from './sinks/console.ts';
export type { ConsoleSinkOptions } from './sinks/console.ts';
export { OtelAlertSink } from './sinks/otel-log.ts';
export type { OtelAlertSinkOptions } from './sinks/otel-log.ts';
export { FanoutSink } from './sinks/fanout.ts';
export type { FanoutSinkOptions } from './sinks/fanout.ts';
export type { HttpDeliveryOptions } from './sinks/http-options.ts';
export type { HttpAuth } from './sinks/auth.ts';
export type { BackoffOptions } from './sinks/backoff.ts';
export type { FetchLike } from './sinks/http-post.ts';
