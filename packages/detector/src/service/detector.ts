import { isIPv6 } from 'node:net';
import type { Alert } from '@llmsec/core';
import { DetectionEngine, defaultRules, loadRulesFile, RuleFileError, type AlertSink } from '@llmsec/detect';
import { replayProjector } from '@llmsec/detect/replay';
import type { Cluster, Redis } from 'ioredis';
import type { ParsedConfig } from './config-schema.ts';
import { DetectorIngest } from './detector-ingest.ts';
import { UnshippedAnswerLog } from './unshipped-answer-log.ts';
import { ConfigError } from './config.ts';
import { IngestQueue } from './ingest-queue.ts';
import { createJsonLogger, type Logger } from './log.ts';
import { DetectorMetrics } from './metrics.ts';
import { startReceivers, type Receivers } from './receivers.ts';
import { buildSinks } from './sinks.ts';
import { logRedisOutages } from './redis-outage-log.ts';
import { chooseState, firstConnection, redisClient, SHARED_QUEUE_HIGH_WATER } from './state.ts';

/** Events stamped further ahead of this process's clock are dropped (memory state; see the engine option). */
const MAX_FUTURE_SKEW_MS = 3_600_000;

export interface DetectorOptions {
  config: ParsedConfig;
  /** @default a JSON logger on stderr at config.log_level */
  logger?: Logger;
  /** Name in logs and the alert log records' service.name. @default `llmsec-detector` */
  serviceName?: string;
}

export interface RunningDetector {
  /**
   * Where the receivers listen (ports resolved when 0 was asked for); `addresses`, each
   * `address:port` listened on (a host name resolving to several gives several).
   */
  readonly http: { host: string; port: number; addresses: readonly string[] };
  readonly grpc: { host: string; port: number; addresses: readonly string[] };
  readonly engine: DetectionEngine;
  readonly metrics: DetectorMetrics;
  /** Events waiting for the engine. */
  readonly queueDepth: number;
  /**
   * Stops accepting (ready → 503, OTLP answers unavailable so senders retry elsewhere), drains
   * what was accepted, processes held events, flushes the sinks, and waits for the requests in
   * flight, still listening (answering 503 / UNAVAILABLE) all the while; then closes everything.
   * Bounded by config.shutdown_timeout: resolves `false` when it had to give up waiting. Idempotent.
   */
  shutdown(): Promise<boolean>;
}

/** Builds and starts the detector service: receivers → queue → engine → sinks / enforcement. */
export async function startDetector(options: DetectorOptions): Promise<RunningDetector> {
  const config = options.config;
  const serviceName = options.serviceName ?? 'llmsec-detector';
  const log = options.logger ?? createJsonLogger({ level: config.log_level, base: { service: serviceName } });
  // Errors name the path given (--rules, or resolved against the config file's directory).
  const rules = config.rules !== undefined ? loadRulesFile(config.rules, config.rules) : undefined;
  // A rule file without rules would run a service that can never alert: refused at start.
  if (rules?.length === 0) {
    throw new RuleFileError(
      `${config.rules!}: no rules (want a list of rules, or an object with a "rules" list)`,
    );
  }
  // Every configuration check before anything connects or listens (a failed start leaves nothing open).
  // Fleet enforcement (the rate limiter, and with it ioredis: ~90 modules) is loaded only for a
  // config that has it; so is ioredis for a Redis state (state.ts), and the OTLP logs exporter
  // for sinks.otlp_alerts (sinks.ts): a minimal start loads none of them (startup-modules test).
  let fleet: typeof import('./fleet-enforcement.ts') | undefined;
  if (config.enforcement !== undefined) {
    fleet = await import('./fleet-enforcement.ts');
    try {
      fleet.checkEnforcementActions(
        config.enforcement.actions,
        definedThresholds(config.enforcement.thresholds),
      );
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
  const state = await chooseState(config.state, {
    cluster: config.state_cluster,
    ...(config.state_namespace !== undefined ? { namespace: config.state_namespace } : {}),
    ...(config.state_timeout !== undefined ? { commandTimeoutMs: config.state_timeout } : {}),
    maxOpenIncidentsPerRule: config.max_open_incidents_per_rule,
    watchRedis: (client) => logRedisOutages(client, log, 'state redis'),
    onNotConnected: () => log.warn('state redis not reachable at start; detecting locally until it is'),
    onBadDatabase: (message) => log.error(`${message} (detecting locally until then)`),
  });
  // The enforcement client is made and its database checked before anything else opens: a
  // missing database is a configuration mistake (exit 2), not an outage to ride out.
  let enforcementClient: Redis | Cluster | undefined;
  if (config.enforcement !== undefined) {
    const e = config.enforcement;
    enforcementClient = await redisClient(e.redis, e.cluster, 'llmsec-detector-enforcement');
    logRedisOutages(enforcementClient, log, 'enforcement redis');
    try {
      await firstConnection(enforcementClient, e.redis, 'enforcement.redis', 5_000, (message) =>
        log.error(`${message} (no enforcement until then)`),
      );
    } catch (err) {
      await state.close();
      throw err;
    }
  }

  let queueRef: IngestQueue | undefined;
  let engineRef: DetectionEngine | undefined;
  // Shared mode while Redis answers; degraded (local detection) counts as unhealthy, and so does
  // a client not connected (at start, or between the drop and the next command's failure).
  const stateHealth = () => ({
    store: state.store,
    healthy: state.store === 'memory' || (state.reachable() && engineRef?.stats.state?.mode !== 'degraded'),
  });
  const metrics = new DetectorMetrics({
    queueDepth: () => queueRef?.depth ?? 0,
    queueBytes: () => queueRef?.heldBytes ?? 0,
    stateHealthy: stateHealth,
    serviceName,
  });
  let built: Awaited<ReturnType<typeof buildSinks>>;
  try {
    built = await buildSinks(
      {
        alertmanager: config.sinks.alertmanager,
        alertmanagerResendIntervalMs: config.sinks.alertmanager_resend_interval,
        alertmanagerAdoptFleetIncidents: config.sinks.alertmanager_adopt_fleet_incidents,
        alertmanagerUnseenHoldMs: config.sinks.alertmanager_unseen_hold,
        webhook: config.sinks.webhook,
        alerts: config.sinks.alerts,
        otlpAlerts: config.sinks.otlp_alerts,
        traceUrlTemplate: config.sinks.trace_url_template,
      },
      metrics.meter,
      serviceName,
      (err) => log.error('alerts file write failed: no more alerts are written to it', { error: err }),
      (sink, bytes) =>
        log.warn(
          `alert lines to ${sink === 'alerts-stdout' ? 'stdout' : 'the alerts file'} dropped: its reader is not keeping up; further drops are counted in llmsec_alert_notifications_total{outcome="dropped"}`,
          { sink, buffered_bytes: bytes },
        ),
    );
  } catch (err) {
    enforcementClient?.disconnect();
    await state.close();
    await metrics.shutdown();
    throw new ConfigError(`sinks: ${(err as Error).message}`);
  }
  const sinks: AlertSink[] = [...built.sinks];
  if (config.enforcement !== undefined && enforcementClient !== undefined && fleet !== undefined) {
    const e = config.enforcement;
    try {
      sinks.push(
        new fleet.FleetEnforcement({
          client: enforcementClient,
          actions: e.actions,
          thresholds: definedThresholds(e.thresholds),
          maxUsersPerAlert: e.max_users_per_alert,
          metrics,
          logger: log,
          onAction: built.emitEvent,
        }),
      );
    } catch (err) {
      // The limiter refusing a duration or threshold: a configuration mistake. Left open, the
      // clients and sinks kept the process alive after "detector failed to start".
      enforcementClient.disconnect();
      await built.close();
      await state.close();
      await metrics.shutdown();
      throw new ConfigError(`enforcement: ${(err as Error).message}`);
    }
  }

  const engine = (engineRef = new DetectionEngine({
    ...(rules !== undefined ? { rules } : {}),
    allowedLatenessMs: config.allowed_lateness,
    tickIntervalMs: config.tick_interval,
    // With Redis state the fleet's cap is the state's (chooseState); the engine's is the same value.
    maxOpenIncidentsPerRule: config.max_open_incidents_per_rule,
    maxOverflowIncidentsPerRule: config.max_overflow_incidents_per_rule,
    // Live: an event stamped far ahead (a sender's broken clock, a forged record) must not push
    // the watermark past every real event. The same bound as the Redis state's default.
    maxFutureSkewMs: MAX_FUTURE_SKEW_MS,
    sinks,
    meter: metrics.meter,
    onAlert: (alert: Alert) =>
      log.info('alert', {
        alert_id: alert.alert_id,
        rule: alert.rule,
        severity: alert.severity,
        status: alert.status,
        users: alert.user_ids.length,
      }),
    ...state.engineOptions,
  }));

  // The engine holds each event for the allowed lateness, up to maxBufferedEvents of them: it
  // gets what its rules read, as llmsec replay's engine does (same alerts), not the record, whose
  // correlated_events or unread metadata lists a sender can make megabytes (request caps only).
  const project = replayProjector(rules ?? defaultRules());
  // Lag is sampled (one event in 16): a histogram record per event would cost more than the rules.
  let sample = 0;
  const queue = (queueRef = new IngestQueue({
    capacity: config.queue_capacity,
    maxBytes: config.queue_max_bytes,
    process: (event, timeMs) => {
      engine.ingestOnce(project(event), timeMs);
      if ((sample++ & 15) === 0) metrics.eventLag(Math.max(0, Date.now() - timeMs) / 1000);
    },
    onError: (err) => log.error('engine ingest failed', { error: err }),
    // With Redis state the engine queues for its flusher and drops the oldest when full: stop
    // feeding it above a high-water mark instead, so our queue fills and senders get 429.
    ...(state.store === 'redis'
      ? { backlog: () => engine.stats.state?.queued ?? 0, maxBacklog: SHARED_QUEUE_HIGH_WATER }
      : {}),
  }));
  const unshippedLog = new UnshippedAnswerLog(log);
  const ingest = new DetectorIngest({
    queue,
    metrics,
    genAi: {
      userAttributes: config.genai.user_attributes,
      sessionAttributes: config.genai.session_attributes,
    },
    retryAfterSeconds: Math.max(1, Math.ceil(config.retry_after / 1000)),
    onError: (err) => log.error('ingest failed', { error: err }),
    // With Redis state an export is answered once its events are shipped (see DetectorIngest).
    ...(state.store === 'redis' ? { shipped: () => engine.shipped() } : {}),
    onUnshipped: (signal) => unshippedLog.answered(signal),
  });

  let receivers: Receivers;
  try {
    receivers = await startReceivers({
      config,
      ingest,
      metrics,
      // Ready means taking data: a degraded state store still detects (locally), so it stays ready.
      ready: () => ingest.isAccepting,
      logger: log,
    });
  } catch (err) {
    await engine.shutdown();
    await built.close();
    enforcementClient?.disconnect();
    await state.close();
    await metrics.shutdown();
    throw err;
  }
  log.info('detector started', {
    // HOST:PORT as otlp.http / otlp.grpc take it (an IPv6 host bracketed).
    otlp_http: hostPort(receivers.http.host, receivers.http.port),
    otlp_grpc: hostPort(receivers.grpc.host, receivers.grpc.port),
    // What a name resolved to (`localhost`: 127.0.0.1 and ::1 where both are).
    otlp_http_addresses: receivers.http.addresses,
    otlp_grpc_addresses: receivers.grpc.addresses,
    state: state.store,
    auth: config.otlp.auth_token !== undefined ? 'bearer' : 'none',
    rules: engine.rules.length,
    sinks: sinks.map((s) => s.name),
  });
  // Judged by the addresses listened on, not the host's text: a name is listened on at every
  // address it resolves to (`localhost` with a LAN record too; a host name of 127.0.1.1 only).
  const open = [...receivers.http.addresses, ...receivers.grpc.addresses].filter((a) => !isLoopback(a));
  if (config.enforcement !== undefined && config.otlp.auth_token === undefined && open.length > 0) {
    // Enforcement acts on whatever the receivers accept: without a token, any peer that reaches
    // them can send a record naming any user (a critical event) and get that user blocked or banned.
    log.warn(
      'fleet enforcement is on and the OTLP receivers take records from any sender on a non-loopback address: set otlp.auth_token_file, or anyone who reaches them can get any user blocked or banned',
      { listening: open },
    );
  }

  let shutdownPromise: Promise<boolean> | undefined;
  const shutdown = async (): Promise<boolean> => {
    log.info('detector stopping: not accepting, draining');
    ingest.stop();
    const work = (async () => {
      // The listeners stay open while draining: /-/ready answers 503 and new exports 503 /
      // UNAVAILABLE (senders retry on another replica, a load balancer sees not-ready) instead
      // of connection refused; requests in flight finish (answered `unavailable`). Ingest has
      // stopped, so nothing new reaches the queue meanwhile. Both done: stop listening.
      const drained = (async () => {
        await queue.whenIdle();
        await engine.shutdown(); // processes held events, flushes and shuts down the sinks
        await built.close();
      })();
      await Promise.all([drained, receivers.whenIdle()]);
      await receivers.close();
      return true;
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), config.shutdown_timeout);
      timer.unref();
    });
    const finished = await Promise.race([work, timeout]);
    clearTimeout(timer);
    if (!finished) {
      log.warn('shutdown timed out; exiting with work pending', {
        queue_depth: queue.depth,
        // What each sink leaves undelivered (an Alertmanager that hangs, a webhook that is down):
        // the operator's measure of the alerts this exit loses.
        sinks_pending: pendingBySink(sinks),
      });
    }
    receivers.forceClose();
    enforcementClient?.disconnect();
    await state.close();
    await metrics.shutdown();
    log.info('detector stopped', { stats: engine.stats });
    return finished;
  };

  return {
    http: receivers.http,
    grpc: receivers.grpc,
    engine,
    metrics,
    get queueDepth() {
      return queue.depth;
    },
    shutdown: () => (shutdownPromise ??= shutdown()),
  };
}

/** Pending deliveries by sink name, for the sinks that count them (sinks of one name summed). */
function pendingBySink(sinks: readonly AlertSink[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const sink of sinks) {
    const n = sink.pendingCount;
    if (n !== undefined) out[sink.name] = (out[sink.name] ?? 0) + n;
  }
  return out;
}

function definedThresholds(t: NonNullable<ParsedConfig['enforcement']>['thresholds']) {
  return {
    ...(t.warning_at !== undefined ? { warningAt: t.warning_at } : {}),
    ...(t.throttled_at !== undefined ? { throttledAt: t.throttled_at } : {}),
    ...(t.blocked_at !== undefined ? { blockedAt: t.blocked_at } : {}),
    ...(t.banned_at !== undefined ? { bannedAt: t.banned_at } : {}),
    ...(t.half_life !== undefined ? { halfLifeMs: t.half_life } : {}),
  };
}

/** A loopback `address:port` listened on (127.0.0.0/8, [::1]): only this host can send. */
function isLoopback(addressPort: string): boolean {
  return addressPort.startsWith('[::1]:') || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d+$/.test(addressPort);
}

/** `host:port`, an IPv6 host in brackets (`[::1]:4318`), as parseHostPort reads it. */
function hostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
