import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Alert } from '@llmsec/core';
import {
  AlertmanagerSink,
  ConsoleSink,
  DetectionEngine,
  DetectionLogRecordProcessor,
  DetectionSpanProcessor,
  OtelAlertSink,
  RedisDetectionState,
  type AlertSink,
} from '@llmsec/detect';
import { Redis } from 'ioredis';
import { setupLlmsec, type LlmsecSetup } from '@llmsec/sdk';
import type { LogRecordProcessor } from '@opentelemetry/sdk-logs';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import type { ChatApiOptions } from './options.ts';

export interface Telemetry {
  llmsec: LlmsecSetup;
  engine: DetectionEngine;
  /** Every alert (firing and resolved) in order, for summaries and tests. */
  alerts: Alert[];
  /** Late subscribers (the rate limiter's violation hook is created after the engine). */
  onAlert: Array<(alert: Alert) => void>;
  /**
   * Late subscribers to updates of open incidents: users who joined one after it fired (a
   * campaign's sixth account), reported by the engine's onUpdate, not as a new firing alert.
   */
  onUpdate: Array<(alert: Alert) => void>;
  shutdown(): Promise<void>;
}

const MAX_ALERTS_KEPT = 10_000;

/**
 * The one-call setup plus inline detection: the detection engine reads security events from
 * both the span processor and the log-record processor (duplicates dropped by event id) and
 * sends alerts to the alert log, the OpenTelemetry log pipeline and, if configured, Alertmanager.
 */
export function setupTelemetry(options: ChatApiOptions): Telemetry {
  // The OpenTelemetry metrics API has no proxy provider: a meter taken before setupLlmsec
  // registers the global MeterProvider records nothing. So setup comes first, with processors
  // that forward to the detection processors built right after it.
  const detection: { spans?: DetectionSpanProcessor; logs?: DetectionLogRecordProcessor } = {};
  // setupLlmsec opens the events file at once (a path it cannot open throws): the folder first.
  if (options.outDir !== undefined) mkdirSync(options.outDir, { recursive: true });
  const llmsec = setupLlmsec({
    serviceName: options.serviceName ?? 'chat-api',
    otlp: options.otlpEndpoint !== undefined ? { endpoint: options.otlpEndpoint } : undefined,
    prometheus:
      options.metrics !== undefined
        ? { port: options.metrics.port, host: options.metrics.host ?? '127.0.0.1' }
        : { preventServerStart: true },
    jsonl: options.outDir !== undefined ? { path: join(options.outDir, 'events.jsonl') } : false,
    capturePreviews: options.capturePreviews ?? false,
    spanProcessors: [forwardSpans(() => detection.spans)],
    logRecordProcessors: [forwardLogs(() => detection.logs)],
  });

  const sinks: AlertSink[] = [new OtelAlertSink()];
  let alertsFile: WriteStream | undefined;
  if (options.outDir !== undefined) {
    alertsFile = createWriteStream(join(options.outDir, 'alerts.jsonl'));
    sinks.push(new ConsoleSink({ stream: alertsFile, name: 'alerts-file' }));
  }
  if (options.alertmanagerUrls !== undefined && options.alertmanagerUrls.length > 0) {
    sinks.push(
      new AlertmanagerSink({
        urls: options.alertmanagerUrls,
        traceUrlTemplate: options.traceUrlTemplate ?? 'http://localhost:16686/trace/{trace_id}',
      }),
    );
  }
  const alerts: Alert[] = [];
  const onAlert: Array<(alert: Alert) => void> = [];
  if (options.onAlert) onAlert.push(options.onAlert);
  const onUpdate: Array<(alert: Alert) => void> = [];
  // Detection state: in Redis when a URL is given (every replica then detects as one process
  // would), in memory otherwise. LLMSEC_DETECT_REDIS_URL overrides LLMSEC_REDIS_URL for it.
  const detectUrl = options.detectRedisUrl ?? options.redisUrl;
  // LLMSEC_INLINE_DETECTION=false: a `llmsec detector` fleet behind the Collector detects
  // instead; the engine then gets no events (and needs no Redis state).
  const inline = options.inlineDetection !== false;
  const detectRedis =
    inline && detectUrl !== undefined && detectUrl !== 'memory'
      ? // The offline queue stays on so the first flush, right after start, waits for the
        // connection; the engine's command timeout bounds every call either way.
        new Redis(detectUrl, { maxRetriesPerRequest: 1 })
      : undefined;
  // Connection errors surface as 'error' events; the engine counts and handles failed calls.
  detectRedis?.on('error', () => {});
  const engine = new DetectionEngine({
    sinks,
    ...(detectRedis !== undefined
      ? {
          state: new RedisDetectionState({
            redis: detectRedis,
            ...(options.detectRuleset !== undefined ? { ruleset: options.detectRuleset } : {}),
            ...(options.detectTimeoutMs !== undefined ? { commandTimeoutMs: options.detectTimeoutMs } : {}),
          }),
        }
      : {}),
    // A quiet second moves event time on, so incidents resolve without new traffic.
    tickIntervalMs: 1000,
    onAlert: (alert) => {
      if (alerts.length < MAX_ALERTS_KEPT) alerts.push(alert);
      for (const listener of onAlert) listener(alert);
    },
    onUpdate: (alert) => {
      for (const listener of onUpdate) listener(alert);
    },
  });
  if (inline) {
    detection.spans = new DetectionSpanProcessor({ engine });
    detection.logs = new DetectionLogRecordProcessor({ engine });
  }

  return {
    llmsec,
    engine,
    alerts,
    onAlert,
    onUpdate,
    shutdown: async () => {
      // Flush the SDK first so the last events reach the engine, then release what the
      // engine still holds for reordering, then stop the sinks.
      await llmsec.forceFlush();
      engine.flush();
      await engine.shutdown();
      detectRedis?.disconnect();
      await llmsec.shutdown();
      if (alertsFile) await new Promise<void>((resolve) => alertsFile.end(resolve));
    },
  };
}

function forwardSpans(target: () => DetectionSpanProcessor | undefined): SpanProcessor {
  return {
    onStart: () => {},
    onEnd: (span) => target()?.onEnd(span),
    forceFlush: async () => target()?.forceFlush(),
    shutdown: async () => target()?.shutdown(),
  };
}

function forwardLogs(target: () => DetectionLogRecordProcessor | undefined): LogRecordProcessor {
  return {
    onEmit: (record, context) => target()?.onEmit(record, context),
    forceFlush: async () => target()?.forceFlush(),
    shutdown: async () => target()?.shutdown(),
  };
}
