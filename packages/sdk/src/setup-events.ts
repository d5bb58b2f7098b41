import type { LlmsecMetrics } from './metrics.ts';
import type { SecurityEvents } from './security-events.ts';

/**
 * The SecurityEvents of the running `setupLlmsec` (the first one started without
 * `registerGlobal: false`, until its shutdown; also when another SDK already held the global
 * providers, so it installed none): where an LLM client instrumented without an `events`
 * option records (`instrumentClient(new OpenAI())` after `setupLlmsec`), so its events reach
 * the setup's JSONL, `onEvent` and detection, not only the global providers.
 */
let current: SecurityEvents | undefined;

/** Makes `events` the default until the returned function is called; a default already set is kept. */
export function installSetupEvents(events: SecurityEvents): () => void {
  if (current !== undefined) return () => {};
  current = events;
  return () => {
    if (current === events) current = undefined;
  };
}

/** The running setup's SecurityEvents, if any. */
export function setupEvents(): SecurityEvents | undefined {
  return current;
}

/**
 * `events` recording into `metrics` instead of its own: everything else (logger, tracer, ids,
 * JSONL, onEvent, fingerprint key) is `events`' own, read through the prototype. For a client
 * with its own meter provider or price table that records through the running setup: its
 * request / cost / event metrics stay on its provider with its model labels, its events still
 * reach the setup's sinks. (A derived object, not a new SecurityEvents: the setup's options are
 * not kept anywhere to build one from.)
 */
export function withMetrics(events: SecurityEvents, metrics: LlmsecMetrics): SecurityEvents {
  if (events.metrics === metrics) return events;
  return Object.create(events, {
    metrics: { value: metrics, enumerable: true, writable: false, configurable: false },
  }) as SecurityEvents;
}
