export { DetectionEngine } from './engine.ts';
export type { DetectionEngineOptions, EngineStats } from './engine.ts';
export { RedisDetectionState, StateTimeoutError } from './state/redis-state.ts';
export type { RedisDetectionStateOptions } from './state/redis-state.ts';
export type { SharedStats } from './state/shared-engine.ts';
export { DetectionSpanProcessor } from './span-processor.ts';
export type { DetectionSpanProcessorOptions, SpanLike } from './span-processor.ts';
export { DetectionLogRecordProcessor } from './log-processor.ts';
export type { DetectionLogRecordProcessorOptions, LogRecordLike } from './log-processor.ts';
export { RecentIds } from './recent-ids.ts';
export { defaultRules, DEFAULT_RULES_PATH, DEFAULT_RULE_IDS } from './default-rules.ts';
export { parseRules, loadRulesFile, RuleFileError } from './rule-loader.ts';
export { ruleSchema } from './rule-schema.ts';
export type { RuleInput } from './rule-schema.ts';
export { parseDuration, formatDuration } from './duration.ts';
export { eventFingerprint } from './fields.ts';
export { alertId } from './incident.ts';
export { formatAlertTable } from './alert-table.ts';
export { decodeEventLineFast, eventTime, forEachLine } from './event-reader.ts';
export { loadRuleTestFile, resolveTime, DEFAULT_TEST_START } from './rule-test-file.ts';
export type { RuleTestFile, RuleTestCase, ExpectedAlert } from './rule-test-file.ts';
export { runRuleTestFile, formatRuleTestResults } from './rule-test-runner.ts';
export type { RuleTestResult } from './rule-test-runner.ts';
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
export type { AlertSink } from './sinks/types.ts';
export { AlertmanagerSink } from './sinks/alertmanager.ts';
export type { AlertmanagerSinkOptions } from './sinks/alertmanager.ts';
export { toAlertmanagerAlert, sanitizeLabelName } from './sinks/alertmanager-payload.ts';
export type { AlertmanagerAlert } from './sinks/alertmanager-payload.ts';
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
