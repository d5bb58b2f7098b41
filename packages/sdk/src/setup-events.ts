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
