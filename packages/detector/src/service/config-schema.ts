import { z } from 'zod';
import { ALERT_SEVERITIES } from '@llmsec/core';
import { parseDuration } from '@llmsec/detect';
import { DEFAULT_SESSION_ATTRIBUTES, DEFAULT_USER_ATTRIBUTES } from './genai-attributes.ts';

/**
 * The detector's YAML config file (`--config`): one place for everything, validated here so a
 * mistake fails at start with the field named. Unknown keys are errors (a typo such as
 * `alertmanagers` must not silently disable alerting). Durations: `30s`, `10m`, `1h` or ms.
 */

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (Number.isNaN(ms)) {
    ctx.addIssue({
      code: 'custom',
      message: `bad duration ${JSON.stringify(value)} (want e.g. 30s, 10m, 1h or ms)`,
    });
    return z.NEVER;
  }
  return ms;
});
const positiveDuration = duration.refine((ms) => ms > 0, { message: 'must be longer than 0' });
// A rule's longest window (10000000d): within what the apps' limiter takes (a safe integer of
// ms) for a block or the score's half-life, and now plus it stays a time. Past the limiter's
// range the enforcement sink could not be built at start.
const enforcementDuration = positiveDuration.refine((ms) => ms <= 864_000_000_000_000, {
  message: 'must be at most 10000000d',
});
// What a Node timer can wait: past 2^31 - 1 ms it fires after 1 ms (and warns in plain text on
// stderr), so a tick, body deadline or drain of `30d` would tick every millisecond, answer 408 to
// every body or end the drain at once.
const MAX_TIMER_MS = 2_147_483_647;
const timerDuration = positiveDuration.refine((ms) => ms <= MAX_TIMER_MS, {
  message: `must be at most 24d (${MAX_TIMER_MS} ms, the longest a timer waits)`,
});

const hostPort = z.string().refine((s) => parseHostPort(s) !== undefined, {
  message: 'want HOST:PORT (e.g. 127.0.0.1:4318, 0.0.0.0:4317, [::1]:4318)',
});

const httpUrl = z
  .string()
  .refine((s) => isUrl(s, ['http:', 'https:']), { message: 'want an http(s):// URL' });

// Each Alertmanager alert's generatorURL (its first trace's link): Alertmanager answers 422 to a
// whole POST whose generatorURL is not a URI (relative, or a bad %-escape), a final answer that
// loses every alert with a trace; without {trace_id} every alert links to one page.
const traceUrlTemplate = z.string().refine(
  (s) => {
    const url = s.replaceAll('{trace_id}', '0af7651916cd43dd8448eb211c80319c');
    // WHATWG's parser strips surrounding whitespace and tabs or newlines inside; Alertmanager
    // does not (a YAML `>` block ends the template in a newline): refused here as 422 there.
    const clean = s.trim() === s && !/[\u0000-\u001f\u007f]/.test(s);
    return clean && url !== s && isUrl(url, ['http:', 'https:']) && !/%(?![0-9A-Fa-f]{2})/.test(url);
  },
  { message: 'want an http(s):// URL holding {trace_id}, e.g. http://jaeger:16686/trace/{trace_id}' },
);

const stateUrl = z.string().refine((s) => s === 'memory' || isUrl(s, ['redis:', 'rediss:']), {
  message: 'want "memory" or a redis:// / rediss:// URL',
});

const redisUrl = z
  .string()
  .refine((s) => isUrl(s, ['redis:', 'rediss:']), { message: 'want a redis:// URL' });

/** A size in bytes: a positive integer, at most 1 GiB (nothing here needs more). */
const byteCount = z
  .number()
  .int()
  .positive()
  .max(1024 * 1024 * 1024);

/** The receivers' default max_body_bytes (http-handler.ts, grpc-server.ts). */
const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** The engine's defaults (@llmsec/detect DetectionEngineOptions, RedisDetectionState). */
const DEFAULT_MAX_OPEN_INCIDENTS = 10_000;
const MAX_ALLOWED_LATENESS_MS = 3_600_000;
const MAX_QUEUE_CAPACITY = 10_000_000;
const DEFAULT_MAX_OVERFLOW_INCIDENTS = 1_000;
/**
 * AlertmanagerSink's resendIntervalMs. Each re-send (with Redis state) first reads the group of
 * every firing alert: 10,000 of them (maxFiring) cost Redis 43-74 ms of CPU a check on a local
 * redis-server, so ten replicas every second would take most of a Redis core; every 5 s, about
 * a seventh. The sink posts a firing alert with endsAt four intervals on, so Alertmanager's
 * resolve_timeout does not bound it; an hour keeps an unattended copy (its process crashed,
 * nothing adopted it) active four hours at most.
 */
const MIN_RESEND_INTERVAL_MS = 5_000;
const MAX_RESEND_INTERVAL_MS = 3_600_000;
const MIN_UNSEEN_HOLD_MS = 1_000;
const MAX_UNSEEN_HOLD_MS = 86_400_000;

/** What auth.ts accepts: compared against `Authorization: Bearer <token>`. */
export const bearerToken = z.string().refine((t) => t.length > 0 && !/[\s\x00-\x1f]/.test(t), {
  message: 'want a non-empty token without whitespace or control characters',
});

/** `none`: the alerts it matches act on nobody (a rule whose users are not the actors). */
const ACTIONS = ['warn', 'throttle', 'block', 'ban', 'none'] as const;

const actionRule = z
  .object({
    severity: z.enum(ALERT_SEVERITIES).optional(),
    rule: z.string().min(1).optional(),
    action: z.enum(ACTIONS),
    /** throttle and block: how long (required); warn: default 5m; ban: none (until lifted with `llmsec limits lift`). */
    duration: enforcementDuration.optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.severity === undefined && a.rule === undefined)
      ctx.addIssue({ code: 'custom', message: 'needs severity or rule (what the action applies to)' });
    if ((a.action === 'throttle' || a.action === 'block') && a.duration === undefined)
      ctx.addIssue({ code: 'custom', path: ['duration'], message: `${a.action} needs a duration` });
    if ((a.action === 'ban' || a.action === 'none') && a.duration !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['duration'],
        message:
          a.action === 'none'
            ? 'none takes no duration (it acts on nobody)'
            : 'a ban lasts until lifted (llmsec limits lift); use block with a duration for a timed refusal',
      });
  });

export const configSchema = z
  .object({
    otlp: z
      .object({
        grpc: hostPort.default('127.0.0.1:4317'),
        http: hostPort.default('127.0.0.1:4318'),
        /** Largest export request: HTTP body on the wire, gRPC message (also inflated). @default 4 MiB */
        max_body_bytes: byteCount.optional(),
        /** HTTP: largest body after decompression. @default 4 × max_body_bytes */
        max_decompressed_bytes: byteCount.optional(),
        /** HTTP: bytes all requests in flight hold together; over it, 429. @default max(128 MiB, 2 × (max_body_bytes + max_decompressed_bytes)) */
        max_inflight_bytes: byteCount.optional(),
        /** HTTP: time to receive a whole body; slower, 408. @default 10s */
        body_timeout: timerDuration.optional(),
        /** HTTP: slowest average body, bytes per second, once 10 s have passed; slower, 408. @default 1024 */
        min_body_rate: byteCount.optional(),
        /** gRPC: concurrent calls per connection. @default 4 (grpc-server.ts) */
        max_concurrent_streams: z.number().int().positive().max(65_535).optional(),
        /** gRPC: open connections; more are closed on arrival. @default 16 (16 × 4 × 4 MiB = 256 MiB of unfinished messages at most) */
        max_grpc_connections: z.number().int().positive().max(65_535).optional(),
        /** Bearer token both receivers require. Prefer auth_token_file or LLMSEC_DETECTOR_AUTH_TOKEN(_FILE). */
        auth_token: bearerToken.optional(),
        /** File holding the bearer token (surrounding whitespace ignored); read at start. */
        auth_token_file: z.string().min(1).optional(),
        /** Decode caps per export request (both receivers, protobuf and JSON). */
        limits: z
          .object({
            max_records: z.number().int().positive().optional(),
            max_attributes: z.number().int().positive().optional(),
            max_string_bytes: byteCount.optional(),
            max_depth: z.number().int().positive().optional(),
            max_span_events: z.number().int().positive().optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .superRefine((o, ctx) => {
        if (o.auth_token !== undefined && o.auth_token_file !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['auth_token_file'],
            message: 'give auth_token or auth_token_file, not both',
          });
        // The HTTP receiver's own rule, checked here so a mistake names the field (exit 2).
        if (o.max_inflight_bytes !== undefined) {
          const body = o.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES;
          const perRequest = body + (o.max_decompressed_bytes ?? 4 * body);
          if (o.max_inflight_bytes < perRequest)
            ctx.addIssue({
              code: 'custom',
              path: ['max_inflight_bytes'],
              message: `must be at least max_body_bytes + max_decompressed_bytes (${perRequest})`,
            });
        }
      })
      .default({ grpc: '127.0.0.1:4317', http: '127.0.0.1:4318' }),
    rules: z.string().min(1).optional(),
    state: stateUrl.default('memory'),
    /** The state URL is a seed node of a Redis Cluster. */
    state_cluster: z.boolean().default(false),
    /**
     * Key namespace of the Redis detection state (RedisDetectionState's `ruleset`): replicas
     * share a rule's state when they run the same definition of it within one namespace,
     * whatever else their rules hold. Give fleets on different traffic that share one Redis
     * different ones. Default: `fleet`.
     */
    state_namespace: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 characters of [A-Za-z0-9_.:-]')
      .optional(),
    /**
     * A Redis state call slower than this switches the replica to local (degraded) detection
     * until Redis answers again (RedisDetectionState's `commandTimeoutMs`; 250 ms by default).
     * A fleet whose Redis is slow under load (a loaded host, a Cluster across zones) degrades
     * often, and a degraded replica gives "at least once"; a longer limit holds the pipeline
     * that long before falling back. At most 10 s (an export's answer waits at most 2 s anyway).
     */
    state_timeout: positiveDuration
      .refine((ms) => ms >= 10 && ms <= 10_000, { message: 'must be between 10ms and 10s' })
      .optional(),
    /**
     * At most an hour: events are held that long before rules see them, so alerts would come
     * that late, and a typo (100d) would hold days of traffic in memory.
     */
    allowed_lateness: duration
      .refine((ms) => ms >= 0 && ms <= MAX_ALLOWED_LATENESS_MS, {
        message: 'must be between 0 and 1h (events wait that long for their alerts)',
      })
      .default(5_000),
    tick_interval: timerDuration.default(1_000),
    /** Events held in memory (a few KB each): a capacity beyond 10,000,000 is no bound at all. */
    queue_capacity: z
      .number()
      .int()
      .positive()
      .max(MAX_QUEUE_CAPACITY, { message: 'at most 10000000 (events held in memory)' })
      .default(200_000),
    /**
     * Bytes the queued events may hold together (estimated from above: two per character, plus
     * per-event and per-entry costs); an export that would pass it is refused as for
     * queue_capacity (429 / RESOURCE_EXHAUSTED, retried). Events filled to core's caps hold
     * ~0.5 MB each, so queue_capacity alone bounds nothing in bytes. @default 512 MiB
     */
    queue_max_bytes: z
      .number()
      .int()
      .min(1024 * 1024, { message: 'at least 1 MiB (1048576)' })
      .max(64 * 1024 * 1024 * 1024, { message: 'at most 64 GiB' })
      .default(512 * 1024 * 1024),
    /**
     * Open incidents per rule (the engine's maxOpenIncidentsPerRule): at the cap none is evicted,
     * a new one opens in the overflow tier. With Redis state the cap is the fleet's, and each
     * replica applies the value of its own config at admission (give every replica the same).
     */
    max_open_incidents_per_rule: z.number().int().positive().default(DEFAULT_MAX_OPEN_INCIDENTS),
    /** Overflow incidents per rule in this process (maxOverflowIncidentsPerRule); 0: refused ones only counted. */
    max_overflow_incidents_per_rule: z.number().int().nonnegative().default(DEFAULT_MAX_OVERFLOW_INCIDENTS),
    // Retry-After / RetryInfo of a 429 or 503: every refused sender waits this long. A typo such
    // as 30d started fine and was clipped to a day when sent (responses.ts).
    retry_after: positiveDuration
      .refine((ms) => ms <= 3_600_000, {
        message: 'must be at most 1h (a sender waits that long before it retries)',
      })
      .default(1_000),
    shutdown_timeout: timerDuration.default(10_000),
    log_level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    sinks: z
      .object({
        alertmanager: z.array(httpUrl).default([]),
        /** How often firing alerts are re-sent to Alertmanager (each POST holds them active for four intervals). */
        alertmanager_resend_interval: duration
          .refine((ms) => ms >= MIN_RESEND_INTERVAL_MS && ms <= MAX_RESEND_INTERVAL_MS, {
            message: 'must be between 5s and 1h',
          })
          .default(60_000),
        /**
         * Whether the Alertmanager sink may adopt the fleet's open incidents (Redis state): the
         * replica holding the adoption lease re-sends those of replicas that left.
         */
        alertmanager_adopt_fleet_incidents: z.boolean().default(true),
        /**
         * How long an incident that resolved before its firing reached an Alertmanager is shown
         * to it firing (AlertmanagerSink's unseenIncidentHoldMs): above the route's group_interval.
         */
        alertmanager_unseen_hold: duration
          .refine((ms) => ms >= MIN_UNSEEN_HOLD_MS && ms <= MAX_UNSEEN_HOLD_MS, {
            message: 'must be between 1s and 24h',
          })
          .default(600_000),
        webhook: z.array(httpUrl).default([]),
        /** Alert JSONL: a file path (appended) or `-` for stdout. */
        alerts: z.string().min(1).optional(),
        /** OTLP/HTTP logs endpoint for alert log records, e.g. http://collector:4318/v1/logs. */
        otlp_alerts: httpUrl.optional(),
        /** Alertmanager `generatorURL` / trace links, e.g. http://jaeger:16686/trace/{trace_id}. */
        trace_url_template: traceUrlTemplate.optional(),
      })
      .strict()
      .default({
        alertmanager: [],
        alertmanager_resend_interval: 60_000,
        alertmanager_adopt_fleet_incidents: true,
        alertmanager_unseen_hold: 600_000,
        webhook: [],
      }),
    genai: z
      .object({
        user_attributes: z
          .array(z.string().min(1))
          .min(1)
          .default([...DEFAULT_USER_ATTRIBUTES]),
        session_attributes: z.array(z.string().min(1)).default([...DEFAULT_SESSION_ATTRIBUTES]),
      })
      .strict()
      .default({
        user_attributes: [...DEFAULT_USER_ATTRIBUTES],
        session_attributes: [...DEFAULT_SESSION_ATTRIBUTES],
      }),
    enforcement: z
      .object({
        /** The rate limiter's Redis (every app replica's RateLimiter reads it). */
        redis: redisUrl,
        cluster: z.boolean().default(false),
        /** The apps' limiter thresholds (ratelimit EnforcementOptions); must match theirs. */
        thresholds: z
          .object({
            warning_at: z.number().positive().optional(),
            throttled_at: z.number().positive().optional(),
            blocked_at: z.number().positive().optional(),
            banned_at: z.number().positive().optional(),
            half_life: enforcementDuration.optional(),
          })
          .strict()
          .default({}),
        max_users_per_alert: z.number().int().positive().default(100),
        /** First match wins: a rule match before a severity match. */
        actions: z.array(actionRule).min(1),
      })
      .strict()
      .optional(),
  })
  .strict();

export type ConfigFile = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type EnforcementActionName = (typeof ACTIONS)[number];

export function parseHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65_535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

function isUrl(s: string, protocols: string[]): boolean {
  try {
    return protocols.includes(new URL(s).protocol);
  } catch {
    return false;
  }
}
