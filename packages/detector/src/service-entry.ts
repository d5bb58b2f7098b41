// @llmsec/detector/service: the service alone, to start it from a config (what `llmsec detector`
// runs), without the building blocks the main entry point also exports. Through the main entry,
// FleetEnforcement alone loads the rate limiter and ioredis (~90 modules) into every start; here
// the service loads them, as the OTLP logs exporter, only for a config that uses them.
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
