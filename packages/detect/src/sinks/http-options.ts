import type { Meter } from '@opentelemetry/api';
import { systemClock, type Clock, type RandomSource } from '@llmsec/core';
import { authHeaders, type HttpAuth } from './auth.ts';
import type { BackoffOptions } from './backoff.ts';
import type { FetchLike } from './http-post.ts';

/** Delivery options shared by the HTTP sinks (Alertmanager, webhook). */
export interface HttpDeliveryOptions {
  /** Per-request timeout. @default 10_000 */
  timeoutMs?: number;
  /** Notifications waiting per target; a new one beyond this is dropped and counted. @default 1_000 */
  maxQueue?: number;
  /** A notification undelivered this long after it was queued is given up and counted `failed`. @default 300_000 */
  maxRetryMs?: number;
  /** Retry backoff, exponential with full jitter. @default { initialMs: 500, maxMs: 30_000 } */
  backoff?: Partial<BackoffOptions>;
  /** The longest `forceFlush()` / `shutdown()` waits for deliveries. @default 10_000 */
  flushTimeoutMs?: number;
  /** Basic or bearer authentication. @default none */
  auth?: HttpAuth;
  /** Extra request headers (e.g. a tenant header). @default {} */
  headers?: Record<string, string>;
  /** @default globalThis.fetch */
  fetch?: FetchLike;
  /** For retry deadlines. @default systemClock */
  clock?: Clock;
  /** For backoff jitter, uniform in [0, 1). @default Math.random */
  random?: RandomSource;
  /** For `llmsec.alert.notifications`. @default metrics.getMeter('@llmsec/detect') */
  meter?: Meter;
}

export interface ResolvedHttpDelivery {
  timeoutMs: number;
  maxQueue: number;
  maxRetryMs: number;
  backoff: BackoffOptions;
  flushTimeoutMs: number;
  headers: Record<string, string>;
  fetch: FetchLike;
  clock: Clock;
  random: RandomSource;
  meter: Meter | undefined;
}

/** Applies the defaults in one place and rejects invalid values with a clear message. */
export function resolveHttpDelivery(options: HttpDeliveryOptions, sink: string): ResolvedHttpDelivery {
  const resolved: ResolvedHttpDelivery = {
    timeoutMs: options.timeoutMs ?? 10_000,
    maxQueue: options.maxQueue ?? 1_000,
    maxRetryMs: options.maxRetryMs ?? 300_000,
    backoff: { initialMs: options.backoff?.initialMs ?? 500, maxMs: options.backoff?.maxMs ?? 30_000 },
    flushTimeoutMs: options.flushTimeoutMs ?? 10_000,
    headers: { ...options.headers, ...authHeaders(options.auth) },
    fetch: options.fetch ?? ((url, init) => fetch(url, init)),
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    meter: options.meter,
  };
  positive(sink, 'timeoutMs', resolved.timeoutMs);
  positive(sink, 'maxQueue', resolved.maxQueue);
  positive(sink, 'maxRetryMs', resolved.maxRetryMs);
  positive(sink, 'backoff.initialMs', resolved.backoff.initialMs);
  positive(sink, 'backoff.maxMs', resolved.backoff.maxMs);
  if (resolved.backoff.maxMs < resolved.backoff.initialMs) {
    throw new Error(
      `${sink}: backoff.maxMs (${resolved.backoff.maxMs}) is below backoff.initialMs (${resolved.backoff.initialMs})`,
    );
  }
  if (!(resolved.flushTimeoutMs >= 0)) throw new Error(`${sink}: flushTimeoutMs must be >= 0`);
  return resolved;
}

export function positive(sink: string, name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`${sink}: ${name} must be a positive number, got ${String(value)}`);
  }
}

/** Parses an http(s) URL at construction; throws with the option's name otherwise. */
export function httpUrl(sink: string, name: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${sink}: ${name} is not a URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`${sink}: ${name} must be http or https: ${JSON.stringify(value)}`);
  }
  if (url.username !== '' || url.password !== '') {
    // fetch refuses URLs with credentials, and they would leak into messages: use `auth`.
    throw new Error(`${sink}: ${name} must not contain credentials; use the auth option`);
  }
  return url;
}
