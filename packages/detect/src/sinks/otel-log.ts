import {
  ROOT_CONTEXT,
  SeverityNumber,
  TraceFlags,
  logs,
  trace,
  type Attributes,
  type Context,
  type Logger,
} from '@opentelemetry/api';
import {
  ALERT_EVENT_NAME,
  ATTR_ALERT_ACROSS_PREFIX,
  ATTR_ALERT_ENDS_AT,
  ATTR_ALERT_EVIDENCE,
  ATTR_ALERT_ID,
  ATTR_ALERT_LABELS_PREFIX,
  ATTR_ALERT_RULE,
  ATTR_ALERT_SEVERITY,
  ATTR_ALERT_STARTS_AT,
  ATTR_ALERT_STATUS,
  ATTR_ALERT_TRACE_IDS,
  ATTR_ALERT_USER_IDS,
  type Alert,
  type AlertSeverity,
} from '@llmsec/core';
import { logRecordTime } from '@llmsec/core/internal';
import { DETECT_METER_NAME } from './notification-counter.ts';
import type { AlertSink } from './types.ts';
import { sinkErrors } from './sink-errors.ts';

export interface OtelAlertSinkOptions {
  /** @default logs.getLogger('@llmsec/detect') (the global LoggerProvider) */
  logger?: Logger;
  /** @default 'otel-log' */
  name?: string;
}

/** The alert's severity as an OpenTelemetry log severity; the status travels as an attribute. */
export const ALERT_SEVERITY_NUMBER: Readonly<Record<AlertSeverity, SeverityNumber>> = {
  warning: SeverityNumber.WARN,
  alert: SeverityNumber.ERROR,
  critical: SeverityNumber.FATAL,
};

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

/**
 * Emits every firing and resolve as a log record named `llmsec.alert`, in the context of the
 * span of the event that fired (or resolved) it, so a log backend links the alert to that
 * trace. It does not count alerts: `llmsec.alerts` is counted once, by the engine.
 */
export class OtelAlertSink implements AlertSink {
  readonly name: string;
  private readonly logger: Logger;
  private closed = false;

  constructor(options: OtelAlertSinkOptions = {}) {
    this.name = options.name ?? 'otel-log';
    this.logger = options.logger ?? logs.getLogger(DETECT_METER_NAME);
  }

  send(alert: Alert): void {
    if (this.closed) return;
    try {
      const severityNumber = ALERT_SEVERITY_NUMBER[alert.severity] ?? SeverityNumber.WARN;
      const time = Date.parse(alert.status === 'resolved' ? (alert.ends_at ?? '') : alert.starts_at);
      this.logger.emit({
        eventName: ALERT_EVENT_NAME,
        severityNumber,
        severityText: alert.severity.toUpperCase(),
        body: `${alert.status === 'resolved' ? 'Resolved' : 'Firing'}: ${alert.title ?? alert.rule}: ${alert.description}`,
        attributes: alertAttributes(alert),
        // Event time, like the alert itself; the SDK adds the observed (wall-clock) time. An
        // HrTime: the SDK reads epoch ms before ~1998 as a performance.now() offset.
        ...(Number.isNaN(time) ? {} : { timestamp: logRecordTime(time) }),
        context: triggerContext(alert),
      });
    } catch (err) {
      sinkErrors.report('otel_log.emit', err);
    }
  }

  /** Log records are handed to the LoggerProvider's processors at once; flushing is theirs. */
  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {
    this.closed = true;
  }
}

export function alertAttributes(alert: Alert): Attributes {
  const attributes: Attributes = {
    [ATTR_ALERT_ID]: alert.alert_id,
    [ATTR_ALERT_RULE]: alert.rule,
    [ATTR_ALERT_SEVERITY]: alert.severity,
    [ATTR_ALERT_STATUS]: alert.status,
    [ATTR_ALERT_USER_IDS]: [...alert.user_ids],
    [ATTR_ALERT_EVIDENCE]: [...alert.evidence],
    [ATTR_ALERT_STARTS_AT]: alert.starts_at,
  };
  if (alert.ends_at !== undefined) attributes[ATTR_ALERT_ENDS_AT] = alert.ends_at;
  if (alert.trace_ids !== undefined) attributes[ATTR_ALERT_TRACE_IDS] = [...alert.trace_ids];
  for (const [k, v] of Object.entries(alert.labels)) attributes[ATTR_ALERT_LABELS_PREFIX + k] = v;
  for (const [k, v] of Object.entries(alert.across ?? {}))
    if (Array.isArray(v)) attributes[ATTR_ALERT_ACROSS_PREFIX + k] = [...v];
  return attributes;
}

/** The trigger span as a (remote, sampled) parent context; the root context without a valid one. */
function triggerContext(alert: Alert): Context {
  const t = alert.trigger;
  if (t === undefined || !TRACE_ID.test(t.trace_id) || t.span_id === undefined || !SPAN_ID.test(t.span_id)) {
    return ROOT_CONTEXT;
  }
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: t.trace_id,
    spanId: t.span_id,
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
  });
}
