import type { Alert } from '@llmsec/core';
import type { TierLimits } from '@llmsec/ratelimit';

/** Everything the chat API can be told; `configFromEnv` maps environment variables onto it. */
export interface ChatApiOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** The OpenAI-compatible upstream. */
  upstream: { baseURL: string; apiKey: string };
  /**
   * How long one upstream call may take before the client gives up and the API answers 504
   * `upstream_timeout` (LLMSEC_UPSTREAM_TIMEOUT_MS): a slow model or a long completion may
   * need more, a latency budget less. At most 300000 (UPSTREAM_TIMEOUT_MAX_MS). @default 30000
   */
  upstreamTimeoutMs?: number;
  /** Model used when a request names none. @default 'gpt-4o-mini' */
  defaultModel?: string;
  /** Models clients may name (others: 400). @default the models of core's price table */
  models?: string[];
  /** Shared limiter state in Redis, and detection state unless `detectRedisUrl` says otherwise; default: in memory (one process). */
  redisUrl?: string;
  /** Shared detection state in this Redis instead of `redisUrl` (LLMSEC_DETECT_REDIS_URL; `memory` keeps detection in process). */
  detectRedisUrl?: string;
  /**
   * Key namespace of the shared detection state (LLMSEC_DETECT_RULESET): within it, processes
   * share each rule's state when they run the same definition of it. @default 'fleet'
   */
  detectRuleset?: string;
  /** A Redis call slower than this sends detection local until Redis answers (LLMSEC_DETECT_TIMEOUT_MS). @default 250 */
  detectTimeoutMs?: number;
  /**
   * Detection in this process (LLMSEC_INLINE_DETECTION; `false` when a `llmsec detector` fleet
   * behind the Collector detects on this app's telemetry instead). @default true
   */
  inlineDetection?: boolean;
  /** Alertmanager base URLs for detection alerts. */
  alertmanagerUrls?: string[];
  /** OTLP/HTTP base URL (traces, logs, metrics). Without it, the standard OTEL_EXPORTER_OTLP_* variables decide. */
  otlpEndpoint?: string;
  /** A separate /metrics server; default: /metrics on the API's own server. */
  metrics?: { port: number; host?: string };
  /** Folder for events.jsonl and alerts.jsonl; default: none written. */
  outDir?: string;
  /** Rate-limit plans; the `x-plan` header picks `free` or `pro`; `ip` applies per client address. @default DEFAULT_TIERS */
  tiers?: Record<string, TierLimits>;
  /** Request body limit. @default 1 MiB */
  maxBodyBytes?: number;
  /** Trace viewer link for alerts, with `{trace_id}`. @default Jaeger on localhost */
  traceUrlTemplate?: string;
  /** Record redacted previews of prompts and responses. @default false */
  capturePreviews?: boolean;
  /** Called for every firing and resolved alert (the demo's progress display). */
  onAlert?: (alert: Alert) => void;
  /** @default 'chat-api' */
  serviceName?: string;
}

/** Two plans: free users are held tight; pro users get room for heavy, legitimate use. */
export const DEFAULT_TIERS: Record<string, TierLimits> = {
  free: {
    requestsPerMinute: 30,
    requestsPerHour: 600,
    tokensPerMinute: 40_000,
    tokensPerDay: 1_000_000,
    costPerHourMicroUsd: 2_000_000,
    concurrent: 4,
  },
  pro: {
    requestsPerMinute: 120,
    requestsPerHour: 5_000,
    tokensPerMinute: 400_000,
    tokensPerDay: 20_000_000,
    costPerHourMicroUsd: 50_000_000,
    concurrent: 16,
  },
  /** Per client address, across all its users: catches one host rotating through accounts. */
  ip: {
    requestsPerMinute: 3_000,
    tokensPerMinute: 4_000_000,
    concurrent: 256,
  },
};

/** Environment variables of the compose stack (deploy/README.md lists them). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ChatApiOptions {
  const options: ChatApiOptions = {
    port: intOr(env.PORT, 8080, 'PORT'),
    host: env.HOST ?? '127.0.0.1',
    upstream: {
      baseURL: env.LLMSEC_UPSTREAM_URL ?? 'http://127.0.0.1:8090/v1',
      apiKey: env.OPENAI_API_KEY ?? 'fake-key',
    },
  };
  if (env.LLMSEC_UPSTREAM_TIMEOUT_MS)
    options.upstreamTimeoutMs = checkUpstreamTimeout(
      positiveInt(env.LLMSEC_UPSTREAM_TIMEOUT_MS, 'LLMSEC_UPSTREAM_TIMEOUT_MS'),
      'LLMSEC_UPSTREAM_TIMEOUT_MS',
    );
  if (env.LLMSEC_REDIS_URL) options.redisUrl = env.LLMSEC_REDIS_URL;
  if (env.LLMSEC_DETECT_REDIS_URL) options.detectRedisUrl = env.LLMSEC_DETECT_REDIS_URL;
  if (env.LLMSEC_DETECT_RULESET) options.detectRuleset = env.LLMSEC_DETECT_RULESET;
  if (env.LLMSEC_DETECT_TIMEOUT_MS)
    options.detectTimeoutMs = positiveInt(env.LLMSEC_DETECT_TIMEOUT_MS, 'LLMSEC_DETECT_TIMEOUT_MS');
  if (env.LLMSEC_ALERTMANAGER_URL)
    options.alertmanagerUrls = env.LLMSEC_ALERTMANAGER_URL.split(',').map((s) => s.trim());
  if (env.LLMSEC_METRICS_PORT) {
    options.metrics = {
      port: intOr(env.LLMSEC_METRICS_PORT, 9464, 'LLMSEC_METRICS_PORT'),
      host: env.LLMSEC_METRICS_HOST ?? '127.0.0.1',
    };
  }
  if (env.LLMSEC_OUT_DIR) options.outDir = env.LLMSEC_OUT_DIR;
  if (env.LLMSEC_TRACE_URL_TEMPLATE) options.traceUrlTemplate = env.LLMSEC_TRACE_URL_TEMPLATE;
  if (env.LLMSEC_CAPTURE_PREVIEWS === 'true') options.capturePreviews = true;
  if (env.LLMSEC_INLINE_DETECTION !== undefined && env.LLMSEC_INLINE_DETECTION !== '') {
    if (env.LLMSEC_INLINE_DETECTION !== 'true' && env.LLMSEC_INLINE_DETECTION !== 'false')
      throw new Error(`LLMSEC_INLINE_DETECTION must be true or false, got "${env.LLMSEC_INLINE_DETECTION}"`);
    options.inlineDetection = env.LLMSEC_INLINE_DETECTION === 'true';
  }
  return options;
}

/**
 * The longest upstream timeout that holds. Node's fetch (undici) gives up waiting for response
 * headers after 300 s on its own, whatever the openai client's timeout: a longer setting would
 * still fail at 300 s, with a 504 naming a bound that was not the one that ran out.
 */
export const UPSTREAM_TIMEOUT_MAX_MS = 300_000;

/** `ms`, or throws naming the setting when it is not a timeout that holds (1 ms to the max). */
export function checkUpstreamTimeout(ms: number, name = 'upstreamTimeoutMs'): number {
  if (!Number.isInteger(ms) || ms < 1 || ms > UPSTREAM_TIMEOUT_MAX_MS) {
    throw new Error(
      `${name} must be an integer from 1 to ${UPSTREAM_TIMEOUT_MAX_MS} (fetch's own 300 s headers timeout), got "${ms}"`,
    );
  }
  return ms;
}

function positiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${value}"`);
  return n;
}

function intOr(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new Error(`${name} must be a port number, got "${value}"`);
  return n;
}
