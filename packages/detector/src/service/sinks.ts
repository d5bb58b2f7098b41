import { createWriteStream, openSync, statSync } from 'node:fs';
import { SeverityNumber, type Logger as OtelLogger, type Meter } from '@opentelemetry/api';
import { eventName, eventToAttributes, parseTimestamp, type SecurityEvent } from '@llmsec/core';
import { logRecordTime } from '@llmsec/core/internal';
import { AlertmanagerSink, ConsoleSink, OtelAlertSink, WebhookSink, type AlertSink } from '@llmsec/detect';

export interface SinkConfig {
  alertmanager: string[];
  /** AlertmanagerSink's resendIntervalMs. @default 60_000 */
  alertmanagerResendIntervalMs?: number | undefined;
  /** AlertmanagerSink's adoptFleetIncidents. @default true */
  alertmanagerAdoptFleetIncidents?: boolean | undefined;
  /** AlertmanagerSink's unseenIncidentHoldMs. @default 600_000 (the sink's default) */
  alertmanagerUnseenHoldMs?: number | undefined;
  webhook: string[];
  /** Alert JSONL file (appended), or `-` for stdout. */
  alerts?: string | undefined;
  /** OTLP/HTTP logs URL for alert log records (and enforcement action events). */
  otlpAlerts?: string | undefined;
  traceUrlTemplate?: string | undefined;
}

export interface BuiltSinks {
  sinks: AlertSink[];
  /** Emits a security event as an `llmsec.<category>` log record to `otlpAlerts` (no-op without it). */
  emitEvent: (event: SecurityEvent) => void;
  /** Flushes and closes what the sinks own beyond themselves (the alerts file, the logger provider). */
  close: () => Promise<void>;
}

/**
 * The engine's sinks from the config: @llmsec/detect's own, one each. `onFileError` hears the
 * first write error of the alerts file (after it the stream is closed and writes go nowhere);
 * `onDrop` the first alert line the alerts file or stdout dropped because its reader does not
 * keep up (a stalled pipe): the lines held for it are bounded, the other sinks unaffected.
 */
export async function buildSinks(
  config: SinkConfig,
  meter: Meter,
  serviceName: string,
  onFileError: (err: Error) => void = () => undefined,
  onDrop: (sink: string, bufferedBytes: number) => void = () => undefined,
): Promise<BuiltSinks> {
  // The OTLP exporter and the logs SDK (otlp-alert-logs.ts) are loaded only for that sink, and
  // before anything here is opened: nothing is left open if the load fails.
  const otlpLogs = config.otlpAlerts !== undefined ? await import('./otlp-alert-logs.ts') : undefined;
  const sinks: AlertSink[] = [];
  const closers: (() => Promise<void>)[] = [];
  if (config.alertmanager.length > 0) {
    sinks.push(
      new AlertmanagerSink({
        urls: config.alertmanager,
        meter,
        ...(config.alertmanagerResendIntervalMs !== undefined
          ? { resendIntervalMs: config.alertmanagerResendIntervalMs }
          : {}),
        ...(config.alertmanagerAdoptFleetIncidents !== undefined
          ? { adoptFleetIncidents: config.alertmanagerAdoptFleetIncidents }
          : {}),
        ...(config.alertmanagerUnseenHoldMs !== undefined
          ? { unseenIncidentHoldMs: config.alertmanagerUnseenHoldMs }
          : {}),
        ...(config.traceUrlTemplate !== undefined ? { traceUrlTemplate: config.traceUrlTemplate } : {}),
      }),
    );
  }
  config.webhook.forEach((url, i) => sinks.push(new WebhookSink({ url, meter, name: `webhook-${i}` })));
  if (config.alerts !== undefined) {
    const dropTo = (name: string) => (bytes: number) => onDrop(name, bytes);
    if (config.alerts === '-') {
      sinks.push(new ConsoleSink({ name: 'alerts-stdout', meter, onDrop: dropTo('alerts-stdout') }));
    } else {
      // Opened now, so a path that cannot be written stops the start naming it; a stream opened
      // lazily reported that only as an error event, and every alert written to it vanished.
      // Except a named pipe: opening one blocks until a reader opens it, which would hang the
      // start; it is opened in the background (its errors still reach onFileError).
      let fd: number | undefined;
      if (!isNamedPipe(config.alerts)) {
        try {
          fd = openSync(config.alerts, 'a');
        } catch (err) {
          throw new Error(`cannot open alerts file ${config.alerts}: ${(err as Error).message}`);
        }
      }
      const stream = createWriteStream(config.alerts, fd !== undefined ? { fd, flags: 'a' } : { flags: 'a' });
      stream.once('error', onFileError);
      stream.on('error', () => undefined); // later write errors must not crash the service
      sinks.push(new ConsoleSink({ stream, name: 'alerts-file', meter, onDrop: dropTo('alerts-file') }));
      closers.push(() => new Promise<void>((resolve) => stream.end(() => resolve())));
    }
  }
  let logger: OtelLogger | undefined;
  if (config.otlpAlerts !== undefined && otlpLogs !== undefined) {
    const otlp = otlpLogs.otlpAlertLogger(config.otlpAlerts, serviceName);
    logger = otlp.logger;
    sinks.push(new OtelAlertSink({ logger }));
    closers.push(() => otlp.shutdown().catch(() => undefined));
  }
  const emitEvent = (event: SecurityEvent): void => {
    if (logger === undefined) return;
    const time = parseTimestamp(event.timestamp);
    logger.emit({
      eventName: eventName(event.category),
      severityNumber: event.severity === 'info' ? SeverityNumber.INFO : SeverityNumber.WARN,
      severityText: event.severity.toUpperCase(),
      body: event.description ?? event.category,
      attributes: eventToAttributes(event),
      // An HrTime: the SDK reads epoch ms before ~1998 as a performance.now() offset.
      ...(Number.isNaN(time) ? {} : { timestamp: logRecordTime(time) }),
    });
  };
  return {
    sinks,
    emitEvent,
    close: async () => {
      await Promise.allSettled(closers.map((c) => c()));
    },
  };
}

function isNamedPipe(path: string): boolean {
  try {
    return statSync(path).isFIFO();
  } catch {
    return false; // missing (created by the open) or unreadable (the open says why)
  }
}
