/**
 * The context the limiter's own store I/O runs in: the root context (no active span, no W3C
 * baggage) with tracing suppressed. A limiter call made inside a user's request must not add
 * Redis spans to that user's trace, and an instrumented client must not copy the user's
 * baggage (`user.id`, `session.id`) onto the limiter's own traffic.
 *
 * The key is the one `@opentelemetry/core`'s `suppressTracing` sets: `createContextKey` is
 * `Symbol.for(description)`, so the same description is the same key without depending on the
 * SDK package (this package only peer-depends on `@opentelemetry/api`).
 */
import { context, createContextKey, ROOT_CONTEXT, type Context } from '@opentelemetry/api';

const SUPPRESS_TRACING_KEY = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

/** `suppressTracing(ROOT_CONTEXT)`: built once, contexts are immutable. */
export const UNTRACED_CONTEXT: Context = ROOT_CONTEXT.setValue(SUPPRESS_TRACING_KEY, true);

/** Runs `fn` (synchronously) in UNTRACED_CONTEXT; what it starts keeps that context. */
export function untraced<T>(fn: () => T): T {
  return context.with(UNTRACED_CONTEXT, fn);
}
