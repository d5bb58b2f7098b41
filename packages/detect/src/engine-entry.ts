// @llmsec/detect/engine: the detection engine and the built-in rules alone, without the rule
// file parser (YAML, zod), the sinks or the OpenTelemetry processors of the main entry point.
// For a thread or tool that is given its rules as data: `llmsec replay`'s engine thread loads
// ~170 modules fewer through it (zod and yaml: ~110 ms of CPU at every replay's start).
export { DetectionEngine } from './engine.ts';
export type { DetectionEngineOptions, EngineStats } from './engine.ts';
export { defaultRules } from './default-rules.ts';
