import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import type { Logger, LogLevel } from './log.ts';

const DIAG_LEVEL: Record<LogLevel, DiagLogLevel> = {
  debug: DiagLogLevel.DEBUG,
  info: DiagLogLevel.INFO,
  warn: DiagLogLevel.WARN,
  error: DiagLogLevel.ERROR,
};

/**
 * Routes OpenTelemetry's diagnostic logger (`diag`) to the service log, one JSON line each.
 * @llmsec/detect's alert sinks say there that a target (an Alertmanager, a webhook) started
 * failing and when it recovered; core's error funnel reports lost notifications and sink faults
 * there; this package's receivers their unexpected failures. With no diag logger those lines go
 * nowhere: a detector whose Alertmanager was unreachable logged nothing while it retried (its
 * `failed` count moves only when a notification is given up, 5 min later).
 *
 * `diag` is one per process, so this is the process owner's choice: `llmsec detector` calls it;
 * an application that embeds `startDetector` keeps its own diag logger unless it calls this.
 * Returns the function that turns it off again.
 */
export function logDiagnostics(log: Logger, level: LogLevel = 'info'): () => void {
  const fields = (args: unknown[]): Record<string, unknown> | undefined =>
    args.length === 0 ? undefined : { details: args.map(detail) };
  const logger: DiagLogger = {
    error: (msg, ...args) => log.error(msg, fields(args)),
    warn: (msg, ...args) => log.warn(msg, fields(args)),
    info: (msg, ...args) => log.info(msg, fields(args)),
    debug: (msg, ...args) => log.debug(msg, fields(args)),
    verbose: (msg, ...args) => log.debug(msg, fields(args)),
  };
  diag.setLogger(logger, { logLevel: DIAG_LEVEL[level], suppressOverrideMessage: true });
  return () => diag.disable();
}

/** What a diag argument says in a JSON line: errors by name and message (the logger's own rule), other objects as text. */
function detail(value: unknown): unknown {
  if (value instanceof Error || value === null || typeof value !== 'object') return value;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return Object.prototype.toString.call(value);
  }
}
