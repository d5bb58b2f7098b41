/**
 * The context llmsec's own I/O runs in (alert sinks, the exporters setupLlmsec owns): the root
 * context (no active span, no W3C baggage) with tracing suppressed. An Alertmanager POST made
 * while a user's request is being handled must not become a span of that user's trace, and an
 * http / fetch instrumentation must not copy the user's `traceparent` or baggage (`user.id`,
 * `session.id`) onto a request to a third-party endpoint.
 *
 * The key is the one `@opentelemetry/core` 3.x's `suppressTracing` sets: `createContextKey` is
 * `Symbol.for(description)`, so the same description is the same key, without core depending
 * on the SDK packages (it peer-depends on `@opentelemetry/api` only). A test checks the two
 * agree (`isTracingSuppressed(UNTRACED_CONTEXT)`).
 */
import { context, createContextKey, ROOT_CONTEXT, type Context } from '@opentelemetry/api';

const SUPPRESS_TRACING_KEY = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

/** `suppressTracing(ROOT_CONTEXT)`: built once (contexts are immutable). */
export const UNTRACED_CONTEXT: Context = ROOT_CONTEXT.setValue(SUPPRESS_TRACING_KEY, true);

/** Runs `fn` synchronously in UNTRACED_CONTEXT; promises and timers it starts keep that context. */
export function untraced<T>(fn: () => T): T {
  return context.with(UNTRACED_CONTEXT, fn);
}
